"""Incremental paging of one newest-first result stream: where a crawl stops and where the next one resumes.

The newest post seen per source (the cursor, store.state.Cursor) is loaded before the first request and saved when
the crawl finishes well. Results come newest first, so paging stops once a page holds only posts older than the
cursor minus the revisit window; posts inside the window are fetched again so their engagement history grows.

A run that max_pages cuts short before it reaches the old cursor leaves a gap: posts older than the last one it
fetched and newer than the old cursor. The saved cursor keeps that gap (store.state.Gap) with the page to resume
from, and the next run, once it has the new posts, pages on from there down to the gap's floor, within the same
max_pages. So a resumed crawl misses nothing and fetches nothing twice outside the revisit window.

Pure: no requests, no store. The spider feeds it each page's mentions and the next page's token, and reads back
which token to fetch next and what cursor to save; counters and log lines go through the `note` callback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from core.mention import Mention
from crawlers.parsers.common import SearchPage
from store import state

STOPPED_AT_CURSOR = "stopped_at_cursor"  # events passed to `note`, counted by the spider as crawl stats
GAP_PAGES = "gap_pages"  # search pages fetched to fill the gap an earlier run left
KEEP_CURSOR: Literal["keep"] = "keep"

log = logging.getLogger(__name__)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def revisit_cutoff(cursor: state.Cursor | None, revisit: timedelta) -> datetime | None:
    """Posts published before this were seen by an earlier run and are past the revisit window."""
    return None if cursor is None else cursor.published_at - revisit


def page_is_stale(published: Iterable[datetime | str | None], cutoff: datetime | None) -> bool:
    """Whether paging on (newest-first results) can stop: every dated post of the page is older than cutoff.

    A page without a single dated post proves nothing, so it never stops the crawl on its own.
    """
    if cutoff is None:
        return False
    times = [_aware(p) for p in published if isinstance(p, datetime)]
    return bool(times) and all(t < cutoff for t in times)


def resume_by_page_number(stored: str, next_token: int | str) -> int | str:
    """For page-numbered streams: new posts push the gap further down, so resume at the stored page or further;
    one page early, in case posts were deleted meanwhile (posts fetched before are not emitted again)."""
    return max(int(stored) - 1, int(next_token)) if stored.isdigit() else next_token


def resume_by_token(stored: str, next_token: int | str) -> int | str:
    """For `after`-style ids: the stored token still points where the gap starts."""
    return stored


@dataclass
class Paging:
    """The cursor/gap state machine of one crawl of one source (see the module docstring)."""

    source_key: str
    max_pages: int
    incremental: bool = True
    revisit: timedelta = timedelta(hours=48)
    resume: Callable[[str, int | str], int | str] = resume_by_token
    note: Callable[[str], None] = lambda event: None
    cursor: state.Cursor | None = None  # as loaded: decides where paging stops
    newest: tuple[datetime, str] | None = None  # newest (published_at, source_id) seen in this run
    # the search stream is paged from the top down to the cursor ("new"), then through a stored gap ("gap")
    phase: Literal["new", "gap"] = "new"
    search_pages: int = 0
    phase_oldest: tuple[datetime, str] | None = None  # oldest search result of the current phase
    new_oldest: tuple[datetime, str] | None = None  # ... of the "new" phase, once it is over
    phase_done: bool = False  # the phase reached its floor (or the end of the results)
    cut_at: str | None = None  # max_pages stopped the phase here: the token of the next page
    unresumable_cut: bool = False  # a stream without resume tokens stopped short of the old cursor

    # what a search page hands to the next one when several workers share a crawl (crawlers.redis_crawl)
    STATE = ("cursor", "newest", "phase", "search_pages", "phase_oldest", "new_oldest", "phase_done", "cut_at",
             "unresumable_cut")

    def snapshot(self) -> dict[str, object]:
        """Where this search stream is: plain data, to travel with the next search request."""
        return {name: getattr(self, name) for name in self.STATE}

    def restore(self, state: dict[str, object]) -> None:
        """Continue the stream another worker (or this one) was paging."""
        for name in self.STATE:
            if name in state:
                setattr(self, name, state[name])

    def track_newest(self, mentions: Iterable[Mention]) -> None:
        """Remember the newest search result of this run: it becomes the cursor when the run ends well."""
        for m in mentions:
            if isinstance(m.published_at, datetime) and m.source_id:
                seen = (_aware(m.published_at), m.source_id)
                if self.newest is None or seen > self.newest:
                    self.newest = seen

    def keep_paging(self, mentions: Iterable[Mention], last_allowed: bool = False) -> bool:
        """For spiders that page several streams at once (one per product) and cannot resume a gap: track the
        newest result and say whether the next (older) page is still worth fetching.

        `last_allowed`: max_pages allows no further page. If the stream still had posts newer than the cursor's
        window there, the cursor is not moved at the end (nothing is skipped; the next run fetches them again).
        """
        mentions = list(mentions)
        self.track_newest(mentions)
        if not self.incremental:
            return True
        if page_is_stale((m.published_at for m in mentions), revisit_cutoff(self.cursor, self.revisit)):
            log.info("stopping %s: the page holds only posts older than the revisit window", self.source_key)
            self.note(STOPPED_AT_CURSOR)
            return False
        if last_allowed and self.cursor is not None:
            self.unresumable_cut = True
        return True

    def unseen(self, page: SearchPage) -> SearchPage:
        """A search page without the posts earlier runs fetched and this one need not fetch again: older than the
        revisit window and outside the gap (while paging down to the cursor), or outside the gap (while filling
        it). Originals shown with a repost are kept, whatever their age: the repost brings them back into view."""
        if not self.incremental or self.cursor is None:
            return page
        gap = self.active_gap()
        cutoff = revisit_cutoff(self.cursor, self.revisit)

        def wanted(m: Mention) -> bool:
            if not isinstance(m.published_at, datetime) or not m.source_id:
                return True
            published = _aware(m.published_at)
            if gap is not None and gap.holds(published, m.source_id):
                return True
            return self.phase == "new" and cutoff is not None and published >= cutoff

        chosen = {id(m) for m in page.mentions if wanted(m)}
        shown = {m.repost_of for m in page.mentions if m.repost_of and id(m) in chosen}
        kept = [m for m in page.mentions if id(m) in chosen or m.source_id in shown]
        return page if len(kept) == len(page.mentions) else replace(page, mentions=kept)

    def active_gap(self) -> state.Gap | None:
        """The stored gap, its top lowered to the oldest post the "new" phase of this run already fetched."""
        gap = self.cursor.gap if self.cursor is not None else None
        if gap is None or self.new_oldest is None or self.new_oldest >= (gap.top_at, gap.top_id):
            return gap
        return state.Gap(gap.floor_at, gap.floor_id, self.new_oldest[0], self.new_oldest[1], gap.resume)

    def follow(self, mentions: Iterable[Mention], next_token: int | str | None) -> int | str | None:
        """After one page of the search stream (newest first): the token of the page to fetch next, or None.

        Counts the page against max_pages, tracks the newest post (the next cursor) and the oldest of the current
        phase, stops the "new" phase at the cursor's revisit window and the "gap" phase at the gap's floor, and
        when max_pages runs out first, remembers where to resume.
        """
        mentions = list(mentions)
        self.search_pages += 1
        if self.phase == "gap":
            self.note(GAP_PAGES)
        self.track_newest(mentions)
        embedded = {m.repost_of for m in mentions if m.repost_of}  # originals shown with a repost: any age
        for m in mentions:
            if isinstance(m.published_at, datetime) and m.source_id and m.source_id not in embedded:
                seen = (_aware(m.published_at), m.source_id)
                if self.phase_oldest is None or seen < self.phase_oldest:
                    self.phase_oldest = seen
        room = self.search_pages < self.max_pages
        if not self.incremental:
            return next_token if room else None
        gap = self.active_gap()
        cutoff = revisit_cutoff(self.cursor, self.revisit) if self.phase == "new" else gap.floor_at if gap else None
        stale = page_is_stale((m.published_at for m in mentions), cutoff)
        if not stale and next_token is not None:
            if room:
                return next_token
            self.cut_at = str(next_token)
            log.info("%s: max_pages reached before the %s phase was done", self.source_key, self.phase)
            return None
        self.phase_done = True
        if self.phase == "new" and stale:
            log.info("stopping %s: the page holds only posts older than the revisit window", self.source_key)
            self.note(STOPPED_AT_CURSOR)
        if self.phase == "new" and gap is not None and next_token is not None:
            self.phase, self.phase_done, self.new_oldest, self.phase_oldest = "gap", False, self.phase_oldest, None
            gap = self.active_gap()
            log.info("%s: filling the gap down to %s", self.source_key, gap.floor_at.isoformat() if gap else "")
            token = self.resume(gap.resume, next_token) if gap else None
            return token if room else None
        return None

    def next_gap(self) -> state.Gap | Literal["keep"] | None:
        """The gap the saved cursor carries after this run, or "keep": leave the old cursor as it is."""
        cursor = self.cursor
        if self.unresumable_cut:
            return KEEP_CURSOR
        # a first crawl reads max_pages deep and no further, by design; spiders that do not page through
        # follow() (relevance-ordered search, browser pages) only record the newest post
        if cursor is None or self.search_pages == 0 or self.phase_done:
            return None
        if self.cut_at is not None and self.phase_oldest is not None:
            if self.phase == "gap":
                gap = self.active_gap()
                assert gap is not None
                floor = (gap.floor_at, gap.floor_id)
            elif cursor.gap is not None:  # a second gap above the first: one gap from the old floor up
                floor = (cursor.gap.floor_at, cursor.gap.floor_id)
            else:
                floor = (cursor.published_at, cursor.source_id)
            if self.phase_oldest <= floor:
                return None  # the cut page already reached below the floor: nothing is left in between
            return state.Gap(floor[0], floor[1], self.phase_oldest[0], self.phase_oldest[1], self.cut_at)
        if self.phase == "gap":
            return self.active_gap()  # max_pages ran out just as the gap was due: it waits for the next run
        return KEEP_CURSOR  # the run stopped paging for another reason: move nothing

    def cursor_after(self, now: datetime, spider: str, keyword: str, gap: state.Gap | None,
                     stored: state.Cursor | None) -> state.Cursor | None:
        """The cursor to save: this run's newest post, never behind what another machine stored meanwhile."""
        if self.newest is None:
            return None
        published, sid = self.newest
        if stored is not None and not stored.newer(published, sid):
            published, sid = stored.published_at, stored.source_id
        return state.Cursor(self.source_key, published, sid, spider=spider, keyword=keyword, updated_at=now, gap=gap)
