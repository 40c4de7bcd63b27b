"""Mentions that could not reach Elasticsearch wait here, one JSON document a line, for the next run.

One file per index prefix. Appends hold an exclusive lock; replay first renames the file away, so that
documents spooled again while replaying are never read twice and a crash mid-replay loses nothing (the
renamed file is picked up by the next replay).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class Spool:
    def __init__(self, directory: Path, prefix: str):
        self.directory = directory
        self.path = directory / f"{prefix}.jsonl"
        self.prefix = prefix

    def append(self, docs: list[tuple[dict[str, Any], str | None]]) -> None:
        if not docs:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            for doc, origin in docs:
                f.write(json.dumps({"origin": origin, "doc": doc}, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def pending_files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        claimed = sorted(self.directory.glob(f"{self.prefix}.jsonl.replaying-*"))
        return [*claimed, *([self.path] if self.path.exists() else [])]

    def count(self) -> int:
        total = 0
        for p in self.pending_files():
            with open(p, encoding="utf-8") as f:
                total += sum(1 for _ in f)
        return total

    def claim(self) -> list[Path]:
        """Take the spooled files for replay (rename them so new appends go to a fresh file)."""
        out = []
        for p in self.pending_files():
            if p == self.path:
                target = p.with_name(f"{p.name}.replaying-{os.getpid()}")
                try:
                    p.rename(target)
                except FileNotFoundError:
                    continue
                out.append(target)
            else:
                out.append(p)
        return out

    @staticmethod
    def read(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None, str | None]]:
        """Yield (line number, document, origin, error) for every line of a claimed file."""
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                try:
                    rec = json.loads(line)
                    doc = rec["doc"]
                    if not isinstance(doc, dict) or "mention_id" not in doc:
                        raise ValueError("not a mention document")
                    yield n, doc, rec.get("origin"), None
                except (ValueError, KeyError, TypeError) as exc:
                    yield n, None, None, f"{path}:{n}: unreadable spool line ({exc})"
