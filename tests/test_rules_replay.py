"""The default rules over the replay (sites.replay): steady days, a promotion and an ordinary bad hour raise
nothing above notice; the viral complaint is matched, at least urgent, within one evaluation after its first half
hour, with its cluster and the big account's post first."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from elasticsearch import Elasticsearch

from alerts import engine
from alerts.model import RANK, Match
from alerts.rules.base import EvalContext
from alerts.rules.context import brands_in_index
from alerts.rules.defaults import DEFAULT_RULES
from alerts.rules.registry import evaluate_all
from groundswell import config as gsconfig
from sites import replay
from store import mapping
from store.writer import MentionWriter, Pending
from tests.conftest import delete_prefix

STEP = timedelta(minutes=15)


@pytest.fixture(scope="module")
def replayed(es: Elasticsearch) -> Iterator[tuple[replay.Scenario, dict[datetime, list[Match]]]]:
    """The replay indexed once, and the default rules' matches at every step through it."""
    prefix = f"gstest-{uuid.uuid4().hex[:10]}"
    try:
        scenario = replay.load(es, prefix)
        steps: dict[datetime, list[Match]] = {}
        at = scenario.start + STEP
        while at <= scenario.end:
            errors: list[str] = []
            ctx = EvalContext(es=es, prefix=prefix, at=at, brands=tuple(brands_in_index(es, prefix, at)))
            steps[at] = evaluate_all(DEFAULT_RULES, ctx, errors)
            assert errors == []
            at += STEP
        yield scenario, steps
    finally:
        delete_prefix(es, prefix)


def above_notice(matches: list[Match]) -> list[str]:
    return [f"{m.at:%a %H:%M} {m.severity} {m.summary}" for m in matches if RANK[m.severity] > RANK["notice"]]


def test_steady_days_promotion_and_bad_hour_raise_nothing_above_notice(
    replayed: tuple[replay.Scenario, dict[datetime, list[Match]]],
) -> None:
    scenario, steps = replayed
    before = [m for at, ms in steps.items() if at < scenario.viral_start for m in ms]
    assert above_notice(before) == []
    promo = [
        m
        for at, ms in steps.items()
        if scenario.promotion_start <= at <= scenario.promotion_end + timedelta(hours=1)
        for m in ms
        if m.brand == scenario.promotion_brand and (m.category is None or m.rule_type == "viral_spread")
    ]
    assert promo == []  # triple the volume, with praise: not even a notice
    bad = [
        m
        for at, ms in steps.items()
        if scenario.bad_hour_start <= at <= scenario.bad_hour_end + timedelta(hours=1)
        for m in ms
        if m.brand == scenario.bad_hour_brand and m.category is None
    ]
    assert bad == []


def test_the_viral_complaint_is_caught_within_one_step_after_half_an_hour(
    replayed: tuple[replay.Scenario, dict[datetime, list[Match]]],
) -> None:
    scenario, steps = replayed
    due = scenario.viral_start + timedelta(minutes=30)
    at = min(t for t in steps if t >= due)
    assert at - due < STEP
    viral = [m for m in steps[at] if m.rule_type == "viral_spread" and m.cluster_id == scenario.viral_mention_id]
    assert len(viral) == 1
    m = viral[0]
    assert RANK[m.severity] >= RANK["urgent"]
    assert m.brand == scenario.viral_brand and m.mention_ids[0] == scenario.viral_mention_id
    assert m.evidence["platforms"] >= 3 and m.evidence["authors"] >= 100 and m.evidence["reposts_per_hour"] >= 1000
    assert m.evidence["reach"] >= scenario.viral_followers
    # the surge and the new terms it causes say they are about the same complaint (one incident, not five)
    others = [x for x in steps[at] if x.brand == scenario.viral_brand and x.rule_type != "viral_spread"]
    assert {x.rule_type for x in others} == {"negative_surge", "new_term"}
    assert {x.cluster_id for x in others} == {scenario.viral_mention_id}, [x.summary for x in others]
    # and it stays matched while it spreads (the incident book folds these into one incident)
    later = [
        any(x.cluster_id == scenario.viral_mention_id for x in ms)
        for t, ms in steps.items()
        if at <= t <= at + timedelta(hours=2)
    ]
    assert all(later)


MINUTE = timedelta(minutes=1)


def _viral_opened(events: list[engine.BacktestEvent], scenario: replay.Scenario) -> datetime | None:
    return next((e.at for e in events if e.kind == "opened" and scenario.viral_mention_id in e.incident.cluster_ids),
                None)


def test_backtest_and_the_crawl_order_replay_open_the_incident_at_the_same_minute(es: Elasticsearch) -> None:
    """The backtest reads the final index as of each minute; the crawl-order replay writes what each minute's
    crawls brought (through the writer's merges) and runs the rules then, as the service would have. A mention
    exists for a rule only from its first crawl, so both must open the viral incident at the same minute."""
    scenario, docs = replay.build()
    start, end = scenario.viral_start - 5 * MINUTE, scenario.viral_start + timedelta(minutes=45)
    final, live = f"gstest-{uuid.uuid4().hex[:10]}", f"gstest-{uuid.uuid4().hex[:10]}"
    try:
        replay.index(es, final, docs)
        back, errors = engine.backtest(_cfg(final), es, start, end, MINUTE)
        assert errors == []

        replay.index(es, live, replay.observed_by(docs, start - MINUTE))
        writer = MentionWriter(es, live, "live")
        fed = [start - MINUTE]

        def crawl_then_evaluate(cfg: gsconfig.Config, es: Elasticsearch, at: datetime
                                ) -> tuple[list[Match], list[str]]:
            res = writer.write([Pending(d) for d in replay.crawled_between(docs, fed[-1], at)])
            assert res.failed == []
            es.indices.refresh(index=mapping.alias(live))
            fed.append(at)
            return engine.evaluate(cfg, es, at)

        crawled, errors = engine.backtest(_cfg(live), es, start, end, MINUTE, matcher=crawl_then_evaluate)
        assert errors == []
    finally:
        delete_prefix(es, final)
        delete_prefix(es, live)
    opened_back, opened_crawled = _viral_opened(back, scenario), _viral_opened(crawled, scenario)
    assert opened_back is not None and opened_crawled is not None
    assert opened_back == opened_crawled, (
        f"backtest opened at +{(opened_back - scenario.viral_start) / MINUTE:.0f} min, the crawl-order replay at "
        f"+{(opened_crawled - scenario.viral_start) / MINUTE:.0f} min"
    )
    # and every other evaluation agrees too
    assert [(e.at, e.kind, e.severity) for e in back] == [(e.at, e.kind, e.severity) for e in crawled]


def _cfg(prefix: str) -> gsconfig.Config:
    return gsconfig.load(None, env={"GROUNDSWELL_INDEX_PREFIX": prefix})
