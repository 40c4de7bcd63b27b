"""The stored document of a mention, built where the analysis runs.

Building it (store.mapping.to_document: phrase segments, times, the history's first observation) cost ~0.1 ms per
mention on the writer's thread, which with analysis workers (pipelines.parallel) is the one thread every mention
waits for. As the last parallel-safe stage it runs in the analysis worker instead; the Elasticsearch stage writes
the document it finds on the item and builds one only for an item that has none (a chain configured without this
stage). It must be the last stage before the sink: a change to the item after it would not reach the document.
"""

from __future__ import annotations

from typing import Any

from core.mention import Mention
from store import mapping


class DocumentPipeline:
    PARALLEL_SAFE = True  # pure per item: pipelines.parallel runs it in a worker process

    @classmethod
    def from_crawler(cls, crawler: Any) -> DocumentPipeline:
        return cls()

    def process_item(self, item: Mention) -> Mention:
        item.document = mapping.to_document(item)
        return item
