"""The complaint stage: a mention's complaint categories, phrases, severity and flag, from the taxonomy's rules
(pipelines.complaints) and, unless switched off, the weak-supervision model trained on their hits
(pipelines.complaint_model)."""

from __future__ import annotations

from typing import Any

from core.mention import Mention
from pipelines import complaint_model
from pipelines.complaints import NEGATIVE_BELOW, Rules, cached_rules, default_rules, is_complaint, tag
from pipelines.sentiment_model import features


def _setting_bool(settings: Any, key: str, default: bool) -> bool:
    getbool = getattr(settings, "getbool", None)
    return bool(getbool(key, default)) if getbool else bool(settings.get(key, default))


class ComplaintPipeline:
    """Scrapy adapter: fills the mention's complaint fields from its title and text.

    complaint_categories holds the category ids followed by the sub-category ids
    ("logistics", "logistics.late_delivery"), so a rule can filter on either level with one term.
    """

    PARALLEL_SAFE = True  # pure per item: pipelines.parallel may run it in a worker process

    def __init__(self, rules: Rules, stats: Any, negative_below: float = NEGATIVE_BELOW, model: Any = None):
        self.rules = rules
        self.stats = stats
        self.negative_below = negative_below
        self.model = model  # complaint_model.ComplaintModel, or None for the rules alone
        self._probabilities: dict[str, Any] = {}  # the current batch's model probabilities by text (prepare_batch)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ComplaintPipeline:
        path = crawler.settings.get("GROUNDSWELL_COMPLAINT_TAXONOMY")
        threshold = crawler.settings.getfloat("GROUNDSWELL_COMPLAINT_NEGATIVE_BELOW", NEGATIVE_BELOW)
        rules = cached_rules(path) if path else default_rules()
        model = None
        # the model's categories are the packaged taxonomy's: with a taxonomy of one's own, the rules alone
        if not path and _setting_bool(crawler.settings, "GROUNDSWELL_COMPLAINT_MODEL", True):
            model = complaint_model.load()
        return cls(rules, crawler.stats, threshold, model)

    @staticmethod
    def _text(item: Mention) -> str:
        return "\n".join(t for t in (item.title, item.text) if t)

    def prepare_batch(self, items: list[Mention]) -> None:
        """Before a batch's items go through process_item one by one (pipelines.chain): the model's features of all
        their texts and its probabilities for them, computed together (features.prefetch, many_probabilities); kept
        until the next batch, found by text."""
        self._probabilities = {}
        if self.model is not None:
            texts = list(dict.fromkeys(t for i in items if (t := self._text(i))))
            features.prefetch(texts)
            try:
                rows = self.model.many_probabilities(texts)
            except (UnicodeError, ValueError):
                return  # a text the features cannot take (a lone surrogate): each item says so on its own
            self._probabilities = dict(zip(texts, rows, strict=True))

    def process_item(self, item: Mention) -> Mention:
        text = self._text(item)
        # a mention that names no brand and is no rated review needs commerce words for generic keywords
        context = not item.brand and item.rating is None
        if self.model is not None:
            result = complaint_model.tag_with_model(text, self.rules, self.model, brand=item.brand,
                                                    require_context=context,
                                                    probabilities=self._probabilities.get(text))
        else:
            result = tag(text, self.rules, brand=item.brand, require_context=context)
        item.complaint_categories = [*result.categories, *result.subcategories]
        item.complaint_phrases = list(result.phrases)
        item.complaint_severity = result.severity
        item.is_complaint = is_complaint(result, item.sentiment_score, self.negative_below)
        if self.stats is not None and item.is_complaint:
            self.stats.inc_value("groundswell/complaints")
            for c in result.categories:
                self.stats.inc_value(f"groundswell/complaints/{c}")
        return item
