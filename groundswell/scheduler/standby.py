"""Several `groundswell run` on several machines: the one holding the lease (lease.py) runs the schedule, the others
stand by and take over when it dies.

A standby tries the lease every second. Taking it, it starts the scheduler on the shared job store (reconciled
with its configuration, as at any start): the runs the old holder missed are coalesced and run at once, and a
run the old holder had already started is not run again (claims.py). A holder that cannot renew its lease stops
scheduling (crawls in flight get the grace, as at a stop) and stands by again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis

from groundswell.scheduler.lease import Lease
from groundswell.scheduler.plan import JobSpec
from groundswell.scheduler.service import Service, recover_previous_holder

log = logging.getLogger("groundswell.scheduler")

Event = Callable[[str, dict[str, Any]], None]
STANDBY_POLL = 1.0  # seconds between two tries of a standby


def serve(svc: Service, lease: Lease, specs: list[JobSpec], duration: float | None, on_event: Event,
          tick: Callable[[], None] | None = None) -> None:
    """Stand by, run the schedule while holding the lease, stand by again when it is lost; until svc.stop() or
    `duration` real seconds. Releases the lease at the end."""
    deadline = None if duration is None else time.monotonic() + duration

    def left() -> float | None:
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    try:
        while not svc.stop_event.is_set() and left() != 0.0:
            if not _stand_by(svc, lease, on_event, left):
                break
            _recover(svc, on_event)
            svc.start(specs)
            on_event("active", {"lease": lease.token})
            lost = _hold(svc, lease, left, tick)
            svc.shutdown()
            if lost:
                log.error("scheduler lease lost: stopped scheduling, standing by")
                on_event("lease_lost", {"lease": lease.token})
    finally:
        lease.release()


def _recover(svc: Service, on_event: Event) -> None:
    """The runs the previous holder left unfinished, recorded lost (service.recover_previous_holder)."""
    from store.client import describe_error

    try:
        found = recover_previous_holder(svc.rt)
    except Exception as exc:  # bookkeeping of the past must not keep the schedule from running; it is said
        log.error("could not check for runs the previous scheduler lost: %s",
                  describe_error(svc.rt.cfg.elasticsearch.effective_url, exc))
        return
    for run in found:
        on_event("lost", run.to_document())


def _stand_by(svc: Service, lease: Lease, on_event: Event, left: Callable[[], float | None]) -> bool:
    """Until the lease is ours (True), or we are told to stop (False)."""
    announced = False
    complained = False
    while not svc.stop_event.is_set() and left() != 0.0:
        try:
            if lease.acquire():
                return True
            if not announced:
                on_event("standby", {"holder": lease.holder()})
                announced = True
        except redis.RedisError as exc:
            if not complained:
                log.error("standing by: cannot reach Redis for the scheduler lease: %s", exc)
                complained = True
        svc.stop_event.wait(STANDBY_POLL if left() is None else min(STANDBY_POLL, left() or 0.0))
    return False


def _hold(svc: Service, lease: Lease, left: Callable[[], float | None], tick: Callable[[], None] | None) -> bool:
    """Run while the lease is ours; True when it was lost, False when told to stop."""
    next_renewal = time.monotonic() + lease.renew_every
    while not svc.stop_event.wait(0.25):
        if left() == 0.0:
            return False
        if time.monotonic() >= next_renewal:
            if not lease.renew():
                return True
            next_renewal = time.monotonic() + lease.renew_every
        elif not lease.valid():
            return True
        if tick is not None:
            tick()
    return False
