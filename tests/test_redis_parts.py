"""The Redis parts on a real Redis (tests/redis_server.py): the reliable request queue, the scheduler lease, crawl
units' shared state, the crawl-unit queue. Pure logic on top of them is tested with the components."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from scrapy import Request, Spider

from crawlers.redis_crawl import CrawlUnit, UnitSpec
from crawlers.redis_queue import ReliableQueue
from crawlers.redis_scheduler import stats_delta
from groundswell.scheduler.lease import Lease
from groundswell.workers.queue import UnitQueue


class Quiet(Spider):
    name = "quiet"

    def parse(self, response: object) -> None:
        return None


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


@pytest.fixture
def key() -> str:
    return f"gstest:{uuid.uuid4().hex[:8]}"


def test_reliable_queue_holds_until_acked_and_requeues_a_dead_workers_requests(client: redis.Redis, key: str
                                                                                ) -> None:
    spider = Quiet()
    a = ReliableQueue(client, spider, f"{key}:q", visibility_seconds=0.3, owner="a")
    b = ReliableQueue(client, spider, f"{key}:q", visibility_seconds=30, owner="b")
    a.push(Request("http://x.test/1", callback=spider.parse))
    a.push(Request("http://x.test/2", callback=spider.parse, priority=5))  # higher priority first
    first = a.pop_entry()
    assert first is not None and first[1].url == "http://x.test/2" and first[1].callback == spider.parse
    assert (a.pending_count(), a.inflight_count()) == (1, 1)
    second = b.pop_entry()
    assert second is not None and second[1].url == "http://x.test/1"
    a.push(Request("http://x.test/3"))
    a.push(Request("http://x.test/4"))
    newest = b.pop_entry()
    assert newest is not None and newest[1].url == "http://x.test/4"  # depth first, as Scrapy's own queue
    older = b.pop_entry()
    assert older is not None and older[1].url == "http://x.test/3"
    b.ack([newest[0], older[0]])
    b.ack([second[0]])
    assert b.pop_entry() is None
    # a dies holding its request: past its deadline any worker puts it back, and b takes it
    time.sleep(0.4)
    assert b.requeue_expired() == 1
    again = b.pop_entry()
    assert again is not None and again[1].url == "http://x.test/2"
    b.release([again[0]])  # a clean stop hands it back at once
    assert (b.pending_count(), b.inflight_count()) == (1, 0)


def test_renewed_requests_are_not_requeued(client: redis.Redis, key: str) -> None:
    q = ReliableQueue(client, Quiet(), f"{key}:q", visibility_seconds=0.3, owner="a")
    q.push(Request("http://x.test/1"))
    entry, _ = q.pop_entry() or ("", None)
    for _ in range(3):
        time.sleep(0.15)
        q.renew([entry])
    assert q.requeue_expired() == 0


def test_lease_is_held_by_one_renewed_and_released(client: redis.Redis, key: str) -> None:
    one, two = Lease(client, f"{key}:lease", 0.5), Lease(client, f"{key}:lease", 0.5)
    assert one.acquire() and not two.acquire()
    assert two.holder() == one.token
    assert one.renew() and one.valid(margin=0.1)
    time.sleep(0.7)  # one froze past its lease: two takes over, and one's renewal fails
    assert two.acquire()
    assert not one.renew()
    one.release()  # not one's any more: compare-and-delete leaves two's lease alone
    assert two.holder() == two.token
    two.release()
    assert one.acquire()


def test_unit_state_is_shared_and_added_up(client: redis.Redis, key: str) -> None:
    unit = CrawlUnit(client, key, "u1")
    unit.create(UnitSpec(unit_id="u1", spider="bilibili", keyword="小米", shared=True))
    assert unit.spec() == UnitSpec(unit_id="u1", spider="bilibili", keyword="小米", shared=True)
    assert unit.claim_seeding("a") and not unit.claim_seeding("b")
    assert not unit.done()  # not seeded yet
    unit.mark_seeded()
    assert unit.done()
    assert unit.first_seen(["p1", "p2"], "e1") == [True, True]
    assert unit.first_seen(["p2", "p3"], "e2") == [False, True]
    assert unit.first_seen(["p1", "p2"], "e1") == [True, True]  # e1 again: its worker died before its ack
    for worker in ({"item_scraped_count": 3, "groundswell/blocked": ""}, {"item_scraped_count": 4}):
        pipe = client.pipeline()
        unit.add_stats(worker, pipe)
        pipe.execute()
    assert unit.stats()["item_scraped_count"] == 7
    unit.publish_paging({"search_pages": 3})
    assert unit.paging() == {"search_pages": 3}
    unit.stop("blocked")
    unit.stop("time limit")
    assert unit.stop_reason() == "blocked"


def test_stats_delta_counts_what_happened_since_the_last_checkpoint() -> None:
    before = {"item_scraped_count": 3, "log_count/INFO": 9, "start_time": 1}
    now = {"item_scraped_count": 5, "log_count/INFO": 12, "start_time": 2, "groundswell/blocked": "weibo: 432",
           "finish_reason": "finished"}
    assert stats_delta(now, before) == {"item_scraped_count": 2, "groundswell/blocked": "weibo: 432"}


def test_a_dead_owners_unit_goes_to_the_next_worker(client: redis.Redis, key: str) -> None:
    queue = UnitQueue(client, key, lease_seconds=0.3)
    queue.enqueue(UnitSpec(unit_id="u1", spider="weibo", keyword="小米"))
    queue.enqueue(UnitSpec(unit_id="u2", spider="weibo", keyword="华为"))
    first = queue.take("a")
    assert first is not None and first.unit_id == "u1"  # oldest first
    assert queue.renew("a", ["u1"]) == {"u1"} and queue.renew("b", ["u1"]) == set()
    time.sleep(0.4)  # a died
    again = queue.take("b")
    assert again is not None and again.unit_id == "u1"  # before the younger unit
    assert queue.release("b", "u1", requeue=True)
    assert [queue.take("c").unit_id, queue.take("c").unit_id] == ["u1", "u2"]  # type: ignore[union-attr]


def test_an_account_is_leased_to_one_worker_and_retired_for_all(client: redis.Redis, key: str) -> None:
    from crawlers.redis_accounts import AccountLeases

    cookies = ["SUB=one", "SUB=two"]
    a, b, c = (AccountLeases(client, key, token) for token in ("a", "b", "c"))
    assert a.current("weibo", cookies) == 0 and a.current("weibo", cookies) == 0  # it keeps its one account
    assert b.current("weibo", cookies) == 1
    assert c.current("weibo", cookies) is None  # both leased
    a.retire("weibo", cookies[0])  # the login wall: gone for everyone
    assert c.current("weibo", cookies) is None and a.current("weibo", cookies) is None
    b.release_all()
    assert c.current("weibo", cookies) == 1
    assert AccountLeases(client, key, "d").retired("weibo", "SUB=one")
