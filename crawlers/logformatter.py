"""Log formatting: a mention dropped as off-topic is routine (counted in stats), not a warning with the
whole item printed."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import logformatter
from scrapy.http import Response
from twisted.python.failure import Failure


class QuietDrops(logformatter.LogFormatter):
    def dropped(
        self, item: Any, exception: BaseException, response: Response | Failure | None, spider: Any
    ) -> Any:
        entry = super().dropped(item, exception, response, spider)
        entry["level"] = logging.DEBUG
        entry["msg"] = "Dropped %(source)s: %(exception)s"
        entry["args"] = {"exception": exception, "source": getattr(item, "origin", None) or "item"}
        return entry
