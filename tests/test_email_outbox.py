"""The outbox against the real Elasticsearch node and a real SMTP server on loopback: queued once, retried with
backoff while SMTP is down, sent exactly once when it is up, never by two schedulers, digests collected once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from elasticsearch import Elasticsearch

from alerts.email.compose import digest_id
from alerts.email.outbox import LEASE, Outbox, backoff, outbox_index
from core.config import Smtp
from tests.smtp_sink import free_port, running_sink

pytestmark = pytest.mark.es

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def message(n: int = 1, subject: str = "incident", to: str = "lead@example.com") -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"{subject} {n}"
    msg["From"] = "groundswell@example.com"
    msg["To"] = to
    msg["Message-ID"] = f"<m{n}@example.com>"
    msg.set_content(f"body {n} 黑屏\n")
    return msg


def enqueue(box: Outbox, n: int, *, kind: str = "opened", at: datetime = T0) -> bool:
    return box.enqueue(f"inc-{n}.{kind}", message(n), incident_id=f"inc-{n}", kind=kind, severity="urgent", at=at)


def test_backoff_doubles_from_30s_to_at_most_30min() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1800, 1800]
    assert backoff(1000) == timedelta(minutes=30)


def test_enqueue_twice_is_one_message(es: Elasticsearch, prefix: str) -> None:
    box = Outbox(es, prefix)
    assert enqueue(box, 1) is True
    assert enqueue(box, 1) is False  # e.g. a restarted scheduler queueing the same notification again
    assert Outbox(es, prefix).enqueue("inc-1.opened", message(99), incident_id="inc-1", kind="opened",
                                      severity="crisis", at=T0 + timedelta(hours=1)) is False
    [item] = box.list()
    assert (item.message_id, item.status, item.attempts, item.severity) == ("inc-1.opened", "pending", 0, "urgent")
    assert item.subject == "incident 1" and item.recipients == ("lead@example.com",)
    assert item.message["Message-ID"] == "<m1@example.com>"
    mapping = es.indices.get_mapping(index=outbox_index(prefix))[outbox_index(prefix)]["mappings"]
    assert mapping["dynamic"] == "strict"
    with pytest.raises(ValueError, match="unknown kind 'weird'"):
        enqueue(box, 2, kind="weird")


def test_smtp_down_then_up_delivers_exactly_once(es: Elasticsearch, prefix: str) -> None:
    box = Outbox(es, prefix)
    enqueue(box, 1)
    enqueue(box, 2)
    port = free_port()
    smtp = Smtp(host="127.0.0.1", port=port, sender="groundswell@example.com")

    down = box.deliver(smtp, T0)
    assert (down.sent, down.failed, down.pending) == (0, 2, 2)
    assert down.errors == [f"inc-1.opened: SMTP 127.0.0.1:{port}: connection refused (is the SMTP server running?)"]
    for item in box.pending():
        assert item.status == "pending" and item.attempts == 1
        assert item.last_error == f"SMTP 127.0.0.1:{port}: connection refused (is the SMTP server running?)"
        assert item.next_attempt == T0 + timedelta(seconds=30)

    waiting = box.deliver(smtp, T0 + timedelta(seconds=10))  # backing off: nothing is due, nothing is tried
    assert (waiting.sent, waiting.failed, waiting.pending) == (0, 0, 2)

    again = box.deliver(smtp, T0 + timedelta(seconds=31))
    assert (again.sent, again.failed) == (0, 2)
    assert {i.next_attempt for i in box.pending()} == {T0 + timedelta(seconds=31 + 60)}
    assert {i.attempts for i in box.pending()} == {2}

    with running_sink(port=port) as sink:
        up_at = T0 + timedelta(minutes=5)
        up = box.deliver(smtp, up_at)
        assert (up.sent, up.failed, up.pending, up.errors) == (2, 0, 0, [])
        assert sorted(m.message["Message-ID"] for m in sink.messages) == ["<m1@example.com>", "<m2@example.com>"]
        sent = box.list(status="sent")
        assert len(sent) == 2 and {i.sent_at for i in sent} == {up_at} and {i.last_error for i in sent} == {None}

        later = box.deliver(smtp, up_at + timedelta(hours=1))
        assert (later.sent, later.failed, later.pending) == (0, 0, 0)
        enqueue(box, 1)  # queued again after it was sent: still nothing new
        assert box.deliver(smtp, up_at + timedelta(hours=2)).sent == 0
        assert len(sink.messages) == 2


def test_a_new_message_is_due_at_once(es: Elasticsearch, prefix: str) -> None:
    box = Outbox(es, prefix)
    enqueue(box, 1, at=T0 + timedelta(minutes=10))  # e.g. `alerts run --at` ahead of the clock
    with running_sink() as sink:
        assert box.deliver(sink.smtp(), T0).sent == 1


def test_refused_recipient_retries_alone_and_others_still_go(es: Elasticsearch, prefix: str) -> None:
    from tests.test_email_send import RefusingHandler

    box = Outbox(es, prefix)
    box.enqueue("bad", message(1, to="nobody@example.com"), incident_id="inc-1", kind="opened", severity="notice",
                at=T0)
    box.enqueue("good", message(2), incident_id="inc-2", kind="opened", severity="notice", at=T0)
    with running_sink(RefusingHandler()) as sink:
        report = box.deliver(sink.smtp(), T0)
        assert (report.sent, report.failed, report.pending) == (1, 1, 1)
        assert "every recipient refused: nobody@example.com (550 5.1.1 no such user)" in report.errors[0]
        assert [m.rcpt_tos for m in sink.messages] == [("lead@example.com",)]


def test_two_schedulers_never_both_send(es: Elasticsearch, prefix: str) -> None:
    for n in range(12):
        enqueue(Outbox(es, prefix), n)
    with running_sink() as sink:
        results = []
        start = threading.Barrier(2)

        def scheduler() -> None:
            box = Outbox(es, prefix)  # its own instance, as another process would have
            start.wait()
            results.append(box.deliver(sink.smtp(), T0))

        threads = [threading.Thread(target=scheduler) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ids = [m.message["Message-ID"] for m in sink.messages]
        assert sorted(ids) == sorted(f"<m{n}@example.com>" for n in range(12))  # each exactly once
        assert sum(r.sent for r in results) == 12


def test_abandoned_claim_is_sent_after_its_lease(es: Elasticsearch, prefix: str) -> None:
    box = Outbox(es, prefix)
    enqueue(box, 1)
    # a scheduler claimed it and died before sending
    hit = box._search({"match_all": {}}, sort=[], size=1)[0]
    assert box._update(hit, {"status": "sending", "lease_until": "2026-11-24T12:30:00.000Z"}) is not None
    assert box._update(hit, {"status": "sending"}) is None  # a stale read cannot claim it again
    with running_sink() as sink:
        assert box.deliver(sink.smtp(), T0 + timedelta(minutes=5)).sent == 0
        assert [i.status for i in box.pending()] == ["sending"]
        assert box.deliver(sink.smtp(), T0 + LEASE).sent == 1
        assert len(sink.messages) == 1 and box.list()[0].status == "sent"


def test_digest_items_are_held_collected_and_digested_once(es: Elasticsearch, prefix: str) -> None:
    box = Outbox(es, prefix)
    enqueue(box, 1, kind="digest-item")
    enqueue(box, 2, kind="digest-item", at=T0 + timedelta(minutes=5))
    enqueue(box, 3, kind="opened")
    with running_sink() as sink:
        assert box.deliver(sink.smtp(), T0 + timedelta(minutes=10)).sent == 1  # only the incident email
        assert [m.subject for m in sink.messages] == ["incident 3"]

        assert [i.message_id for i in box.collect_digest(T0)] == ["inc-1.digest-item"]
        items = box.collect_digest(T0 + timedelta(minutes=10))
        assert [i.message_id for i in items] == ["inc-1.digest-item", "inc-2.digest-item"]
        assert items[0].message["Subject"] == "incident 1"

        did = digest_id(i.message_id for i in items)
        assert box.enqueue_digest(did, message(10, "digest"), items, T0 + timedelta(minutes=10)) is True
        assert box.collect_digest(T0 + timedelta(hours=1)) == []
        assert {i.status for i in box.list(status="digested")} == {"digested"}
        assert {i.digest_id for i in box.list(status="digested")} == {did}

        report = box.deliver(sink.smtp(), T0 + timedelta(minutes=10))
        assert report.sent == 1 and sink.messages[-1].subject == "digest 10"
        digest = box.get(did)
        assert digest is not None and digest.kind == "digest" and digest.incident_ids == ("inc-1", "inc-2")
        assert digest.severity == "urgent"


def test_digest_queued_before_a_crash_is_not_repeated(es: Elasticsearch, prefix: str) -> None:
    box = Outbox(es, prefix)
    enqueue(box, 1, kind="digest-item")
    enqueue(box, 2, kind="digest-item")
    items = box.collect_digest(T0)
    did = digest_id(i.message_id for i in items)
    # the digest was queued, then the scheduler died before marking its items
    box.enqueue(did, message(10, "digest"), incident_id="inc-1 inc-2", kind="digest", severity="notice", at=T0,
                digest_items=[i.message_id for i in items])
    enqueue(box, 3, kind="digest-item")  # a new notice arrives meanwhile
    after = box.collect_digest(T0 + timedelta(minutes=30))
    assert [i.message_id for i in after] == ["inc-3.digest-item"]  # only the new one goes into the next digest
    assert {i.message_id: i.digest_id for i in box.list(status="digested")} == {
        "inc-1.digest-item": did, "inc-2.digest-item": did,
    }

