"""What every crawl child loads alike, loaded once in the fork server (groundswell.scheduler.forkserver) so that the
children it forks share it: the command line, Scrapy and the spiders, the pipeline stages, and the analysis tables
that are built on first use (the complaint taxonomy and rules, the models' metadata; their arrays are memory-mapped
files, shared anyway).

Importing this must start no thread, open no connection and install no Twisted reactor: a forked child gets only
the thread that forked it, and each crawl installs its own reactor."""

from __future__ import annotations

import gc
import importlib
import pkgutil

import scrapy.crawler  # noqa: F401
import setproctitle

import crawlers.spiders
import groundswell.cli
import pipelines
from pipelines import complaint_model, complaints, sentiment


def _import_all(package: object, skip: frozenset[str] = frozenset()) -> None:
    for module in pkgutil.iter_modules(package.__path__):  # type: ignore[attr-defined]
        if module.name not in skip:
            importlib.import_module(f"{package.__name__}.{module.name}")  # type: ignore[attr-defined]


# every command but the entry module itself: a scheduler started as `python -m groundswell.cli.main` has
# multiprocessing run that module again in each child as its __mp_main__, which warns when it is loaded already
_import_all(groundswell.cli, skip=frozenset({"main", "__main__"}))
_import_all(crawlers.spiders)
_import_all(pipelines)
complaints.load_taxonomy()
complaints.cached_rules()
complaint_model.load()
sentiment.analyse("预热：手机用了三天就黑屏，客服不回复")

setproctitle.setproctitle("groundswell fork server (crawl children are forked from here)")

# Everything loaded above moves to the collector's permanent generation: a collection in a forked child would
# otherwise write to every tracked object's header, copying nearly every shared page into the child.
gc.freeze()
