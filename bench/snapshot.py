"""Freeze the code under test for one benchmark run.

The working tree may change while a long benchmark runs (other people edit it). The benchmark therefore
copies the project's packages into bench/.data/snapshot and re-executes itself with that copy first on
PYTHONPATH, so that its in-process baseline and every `groundswell ingest` subprocess run exactly the same
code, and the results can name it (content digest, git HEAD, uncommitted changes).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PACKAGES = ("groundswell", "pipelines", "crawlers", "alerts")
ENV = "GSBENCH_SNAPSHOT"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for pkg in PACKAGES:
        base = root / pkg
        if not base.is_dir():
            continue
        for p in sorted(base.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
                h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _git(root: Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def take(root: Path, dest: Path, attempts: int = 5) -> dict[str, Any]:
    """Copy the packages; retry while the tree changes under the copy. Returns what the copy is."""
    for _ in range(attempts):
        before = digest(root)
        tmp = dest.with_name(dest.name + ".new")
        shutil.rmtree(tmp, ignore_errors=True)
        for pkg in PACKAGES:
            if (root / pkg).is_dir():
                shutil.copytree(root / pkg, tmp / pkg, ignore=_IGNORE)
        copied = digest(tmp)
        if copied == before == digest(root):
            shutil.rmtree(dest, ignore_errors=True)
            tmp.rename(dest)
            dirty = _git(root, "status", "--porcelain", "--", *PACKAGES)
            info = {
                "digest": copied,
                "taken": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                "git_head": _git(root, "rev-parse", "--short", "HEAD") or "unknown",
                "uncommitted": len(dirty.splitlines()) if dirty else 0,
            }
            (dest / "SNAPSHOT.json").write_text(json.dumps(info, indent=1), encoding="utf-8")
            return info
        time.sleep(2)
    raise RuntimeError(f"{root} kept changing while it was copied; try again")


def enter(root: Path, dest: Path) -> None:
    """Outside a snapshot: take one and re-execute this script inside it (does not return). Inside: no-op."""
    if os.environ.get(ENV):
        return
    info = take(root, dest)
    print(f"code under test: snapshot {info['digest'][:12]} of {', '.join(PACKAGES)} in {dest}",
          file=sys.stderr)
    pythonpath = os.pathsep.join(p for p in (str(dest), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": pythonpath, ENV: str(dest)}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def info() -> dict[str, Any]:
    """What the running snapshot is; raises when the project modules do not come from it."""
    dest = Path(os.environ[ENV])
    import groundswell
    import pipelines

    for mod in (groundswell, pipelines):
        if not Path(mod.__file__ or "").resolve().is_relative_to(dest.resolve()):
            raise RuntimeError(f"{mod.__name__} comes from {mod.__file__}, not from the snapshot {dest}")
    loaded: dict[str, Any] = json.loads((dest / "SNAPSHOT.json").read_text(encoding="utf-8"))
    return loaded
