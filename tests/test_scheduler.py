"""The scheduler's pure parts: which jobs a configuration wants, simulated-time triggers, retention, how a crawl
child's end becomes a job run."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta, timezone

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import ValidationError

from core.clock import SimulatedClock
from core.config import Source
from groundswell import config as gsconfig
from groundswell.scheduler.children import ChildResult
from groundswell.scheduler.jobs import crawl_command, crawl_outcome
from groundswell.scheduler.plan import PlanError, SimTimeTrigger, expired_indices, plan_jobs, trigger_key

CST = timezone(timedelta(hours=8))


def cfg(**raw: object) -> gsconfig.Config:
    return gsconfig.AppConfig.model_validate(raw)


def sources(*extra: dict[str, object]) -> list[dict[str, object]]:
    return [{"name": "wb", "spider": "weibo", "keywords": ["小米"], "interval_minutes": 15}, *extra]


def test_plan_has_crawl_revisit_alerts_and_only_what_is_configured() -> None:
    jobs = plan_jobs(cfg(sources=sources({"name": "off", "spider": "jd", "enabled": False})), None)
    assert [(j.id, j.kind) for j in jobs] == [("crawl:wb", "crawl"), ("revisit:wb", "revisit"), ("alerts", "alerts"),
                                              ("compaction", "compaction")]
    crawl, revisit = jobs[0], jobs[1]
    assert crawl.func == "groundswell.scheduler.jobs:crawl_source"
    assert crawl.kwargs == {"source": "wb", "revisit": False}
    assert revisit.kwargs == {"source": "wb", "revisit": True}
    assert isinstance(crawl.trigger, IntervalTrigger) and crawl.trigger.interval_length == 15 * 60
    assert crawl.trigger.jitter == 30  # the default jitter_seconds

    full = plan_jobs(cfg(sources=sources(), alerting={"digest_minutes": 60}, scheduler={"retention_months": 6}), None)
    assert {j.id for j in full} == {"crawl:wb", "revisit:wb", "alerts", "digest", "retention", "compaction"}
    never = plan_jobs(cfg(sources=sources(), scheduler={"compact_after_days": None}), None)
    assert "compaction" not in {j.id for j in never}


def test_bad_schedules_name_the_source_key_and_value() -> None:
    with pytest.raises(PlanError, match=r"sources\[wb\]: cron: .*'61 \* \* \* \*'"):
        plan_jobs(cfg(sources=[{"name": "wb", "spider": "weibo", "cron": "61 * * * *"}]), None)
    with pytest.raises(PlanError, match=r"sources\[wb\]: give interval_minutes or cron, not both"):
        plan_jobs(cfg(sources=[{"name": "wb", "spider": "weibo", "cron": "*/5 * * * *", "interval_minutes": 5}]), None)
    # two sources of one name are refused when the configuration loads, before any plan
    with pytest.raises(ValidationError, match=r"sources\[1\] has the same name as sources\[0\]"):
        cfg(sources=[{"name": "wb", "spider": "weibo"}, {"name": "wb", "spider": "jd"}])


def test_simulated_interval_fires_at_interval_over_speed_in_real_time() -> None:
    sim = SimulatedClock(start=datetime(2026, 11, 24, 10, 0, tzinfo=CST), speed=60.0, anchor=1_000_000.0)
    inner = IntervalTrigger(minutes=15, timezone=UTC, start_date=datetime(2026, 11, 24, 2, 15, tzinfo=UTC))
    trig = SimTimeTrigger(inner, sim.start, sim.speed, sim.anchor)
    real_now = datetime.fromtimestamp(1_000_000.0, UTC)
    first = trig.get_next_fire_time(None, real_now)
    assert first is not None and (first - real_now).total_seconds() == pytest.approx(15.0)
    second = trig.get_next_fire_time(first, first)
    assert second is not None and (second - first).total_seconds() == pytest.approx(15.0)
    # the store pickles triggers
    again = pickle.loads(pickle.dumps(trig))
    assert trigger_key(again) == trigger_key(trig)
    assert again.get_next_fire_time(first, first) == second


def test_simulated_cron_follows_the_simulated_day() -> None:
    sim = SimulatedClock(start=datetime(2026, 11, 24, 10, 0, tzinfo=CST), speed=3600.0, anchor=0.0)
    inner = CronTrigger.from_crontab("0 12 * * *", timezone=CST)
    trig = SimTimeTrigger(inner, sim.start, sim.speed, sim.anchor)
    fire = trig.get_next_fire_time(None, datetime.fromtimestamp(0.0, UTC))
    assert fire is not None and fire.timestamp() == pytest.approx(2.0)  # two simulated hours at 1 h per second
    assert trig.to_sim(fire) == datetime(2026, 11, 24, 12, 0, tzinfo=CST)


def test_unchanged_schedule_has_the_same_key_and_a_changed_one_does_not() -> None:
    a = plan_jobs(cfg(sources=sources()), None)[0].trigger
    b = plan_jobs(cfg(sources=sources()), None)[0].trigger
    c = plan_jobs(cfg(sources=[{"name": "wb", "spider": "weibo", "interval_minutes": 20}]), None)[0].trigger
    assert trigger_key(a) == trigger_key(b) != trigger_key(c)


def test_retention_drops_only_whole_months_past_the_limit_by_exact_name() -> None:
    names = [
        "gs-mentions-2026.07", "gs-mentions-2026.08", "gs-mentions-2026.11", "gs-mentions-2025.12",
        "gs-mentions", "gs-crawl-runs", "gs-mentions-2026.13", "gsx-mentions-2020.01", "gs-mentions-2020.01-old",
    ]
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert expired_indices(names, "gs", now, 3) == ["gs-mentions-2025.12", "gs-mentions-2026.07"]
    # at the last day of a long month, the month back is clamped, not an error
    assert expired_indices(["gs-mentions-2026.01"], "gs", datetime(2026, 3, 31, tzinfo=UTC), 1) == [
        "gs-mentions-2026.01"
    ]


def test_crawl_outcome_reads_the_childs_json_and_how_it_ended() -> None:
    out = '{"spider": "weibo", "keyword": "小米", "item_scraped_count": 7, "groundswell/indexed": 5, ' \
          '"finish_reason": "finished"}\nnot json\n{"spider": "weibo", "keyword": "Xiaomi", "item_scraped_count": 3}\n'
    at = datetime(2026, 11, 24, tzinfo=UTC)
    ok = crawl_outcome("crawl:wb", "crawl", "wb", ChildResult(0, 2.0, None, out, ""), at)
    assert (ok.result, ok.items, ok.indexed, ok.error) == ("ok", 10, 5, None)
    assert ok.stats["keywords"] == ["小米", "Xiaomi"]
    killed = crawl_outcome("crawl:wb", "crawl", "wb", ChildResult(-9, 63.0, "time limit"), at)
    assert killed.result == "killed" and "time limit" in (killed.error or "")
    failed = crawl_outcome("crawl:wb", "crawl", "wb", ChildResult(1, 1.0, None, "", "Traceback\nBoom: bad\n"), at)
    assert failed.result == "failed" and "Boom: bad" in (failed.error or "")
    spooled = crawl_outcome("crawl:wb", "crawl", "wb", ChildResult(3, 1.0, None, '{"groundswell/spooled": 4}'), at)
    assert spooled.result == "failed" and "4 mentions spooled" in (spooled.error or "")


def test_crawl_command_names_the_source_and_the_revisit_window() -> None:
    src = Source(name="wb", spider="weibo")
    cmd = crawl_command(src, "/etc/gs.yaml", 48.0)
    assert cmd[1:] == ["-m", "groundswell.cli.main", "--config", "/etc/gs.yaml", "crawl", "wb", "--json",
                       "-a", "revisit_hours=48"]
    assert "--config" not in crawl_command(src, None, None)
