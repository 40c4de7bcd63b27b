"""The one backoff policy: waits that double from a base up to a cap.

Used by the crawl's retries (crawlers.middlewares), the store writer's retries (store.writer) and the email
outbox's redelivery (alerts.email.outbox), so "how long before the next try" is answered in one place."""

from __future__ import annotations

MAX_DOUBLINGS = 30  # beyond this the cap has long been reached; keeps 2**n small for any attempt number


def delay(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before retry number `attempt` (1 for the first retry): base, 2 x base, 4 x base ..., at
    most cap."""
    return min(cap, base * 2 ** min(max(0, attempt - 1), MAX_DOUBLINGS))
