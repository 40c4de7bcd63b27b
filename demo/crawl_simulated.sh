#!/usr/bin/env bash
# Part of `make demo`: start the simulated sources, crawl two of them into the index, stop the simulator.
set -euo pipefail
GS=${GS:-.venv/bin/groundswell}
CONFIG=${CONFIG:-demo/groundswell.yaml}
PORT=${DEMO_SITES_PORT:-8800}
"$GS" sites --port "$PORT" --seed 1 --quiet > /dev/null &
SITES=$!
trap 'kill "$SITES" 2>/dev/null || true; wait "$SITES" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -fs "http://127.0.0.1:$PORT/robots.txt" > /dev/null && break
  sleep 0.2
done
"$GS" --config "$CONFIG" crawl weibo -k 小米 --base-url "http://127.0.0.1:$PORT" --max-pages 2
"$GS" --config "$CONFIG" crawl reddit -k Xiaomi --base-url "http://127.0.0.1:$PORT" --max-pages 2
