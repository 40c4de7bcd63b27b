# Groundswell: `make demo` and `make test` do all their own setup and are safe to run twice.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
GS := $(VENV)/bin/groundswell
STAMP := $(VENV)/.installed
PYTEST_ARGS ?= -q

.PHONY: setup system-deps install uninstall demo test lint bench es-start es-stop clean

# System packages: Maven fetches Elasticsearch, a JDK (17+) runs it, Debian's Chromium (with a CJK font) renders
# the browser spiders' pages (`playwright install` cannot download browsers here), redis-server is what the tests
# of crawl workers and standby schedulers start (a single machine needs no Redis). Installed only when missing.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing="$$missing chromium"; \
	dpkg-query -W -f='$${Status}' fonts-wqy-zenhei 2>/dev/null | grep -q "ok installed" || missing="$$missing fonts-wqy-zenhei"; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v java >/dev/null || ls -d /usr/lib/jvm/*/bin/java >/dev/null 2>&1 || missing="$$missing openjdk-17-jdk-headless"; \
	command -v $(PYTHON) >/dev/null || missing="$$missing python3.11 python3.11-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml | system-deps
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $(STAMP)

# The project's own modules compiled to bytecode up front (compileall skips what is current): an editable install
# compiles nothing, and where PYTHONDONTWRITEBYTECODE is set (containers often set it) every command compiled ~90
# modules again at start-up, ~0.1-0.25 s of each `groundswell` run. A module edited later is recompiled in memory.
setup: system-deps $(STAMP)
	@$(VENV)/bin/python -m compileall -q -j 0 alerts core crawlers groundswell kibana pipelines sites store >/dev/null

# `groundswell` on the PATH without activating the venv: a link in $(BINDIR) to the venv's command.
BINDIR ?= $(HOME)/.local/bin
install: setup
	@mkdir -p $(BINDIR)
	@ln -sfn $(abspath $(GS)) $(BINDIR)/groundswell
	@echo "linked $(BINDIR)/groundswell -> $(abspath $(GS))"
	@case ":$$PATH:" in *":$(BINDIR):"*) ;; \
	  *) echo "$(BINDIR) is not on your PATH yet: add  export PATH=\"$(BINDIR):\$$PATH\"  to ~/.profile";; esac

uninstall:
	rm -f $(BINDIR)/groundswell

es-start: setup
	@if [ -n "$$GROUNDSWELL_ES_URL" ]; then $(GS) es status; else $(GS) es start; fi

es-stop: setup
	$(GS) es stop

# The demo's logic lives in demo/run_demo.py: simulator, mail sink, `groundswell run` for a few simulated hours,
# one viral complaint, then what happened. It stops what it started except Elasticsearch.
demo: es-start
	@$(VENV)/bin/python demo/run_demo.py
	@echo; echo "Elasticsearch keeps running for you: try 'groundswell search --help' (after 'make install'; or"; \
	  echo "$(GS) search --help); stop it with 'make es-stop'."

# Tests run against a real node: started here if none answers, and stopped again only if started here.
test: setup
	@started=0; \
	if ! $(GS) es status >/dev/null 2>&1; then \
	  if [ -n "$$GROUNDSWELL_ES_URL" ]; then echo "GROUNDSWELL_ES_URL=$$GROUNDSWELL_ES_URL does not answer"; exit 1; fi; \
	  $(GS) es start || exit 1; started=1; \
	fi; \
	rc=0; $(VENV)/bin/pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ $$started = 1 ]; then $(GS) es stop; fi; \
	exit $$rc

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

bench: es-start
	$(VENV)/bin/python bench/ingest_bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
