"""Shared Playwright launch settings for the spiders that render JavaScript (scrapy-playwright + Debian's Chromium).

`playwright install` cannot download browsers here, so the spiders drive the system Chromium. The extra flags keep
it from dialling out (component updates, sync, background networking), which would only be refused and logged.
Memory stays bounded: one browser, few contexts, few pages per context, and every page is closed by the spider.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

CHROMIUM_ENV = "GROUNDSWELL_CHROMIUM"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "chromium", "chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MISSING_MESSAGE = "no Chromium executable found; install Debian's chromium: apt-get install -y chromium"


class BrowserMissing(RuntimeError):
    """Chromium is not installed: a browser spider cannot run at all, so say how to fix it."""


def find_chromium() -> str | None:
    """The Chromium to launch: $GROUNDSWELL_CHROMIUM, else the first Debian/Ubuntu name found, else None."""
    override = os.environ.get(CHROMIUM_ENV, "").strip()
    for candidate in (override, *CHROMIUM_CANDIDATES) if override else CHROMIUM_CANDIDATES:
        path = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def chromium_executable() -> str:
    """Like find_chromium, but a missing browser is an error that says how to install it."""
    path = find_chromium()
    if path is None:
        raise BrowserMissing(MISSING_MESSAGE)
    return path


def launch_options(executable: str | None = None) -> dict[str, Any]:
    """PLAYWRIGHT_LAUNCH_OPTIONS for a headless system Chromium."""
    return {
        "executable_path": executable or find_chromium() or CHROMIUM_CANDIDATES[0],
        "args": list(CHROMIUM_ARGS),
        "headless": True,
    }


# Spread into a spider's custom_settings. Requests without meta["playwright"] still go through Scrapy's own
# HTTP handler (robots.txt, plain pages), and the browser is launched only for the first playwright request.
BROWSER_SETTINGS: dict[str, Any] = {
    "DOWNLOAD_HANDLERS": {
        "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
        "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
    },
    "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    "PLAYWRIGHT_BROWSER_TYPE": "chromium",
    "PLAYWRIGHT_LAUNCH_OPTIONS": launch_options(),
    "PLAYWRIGHT_MAX_CONTEXTS": 2,
    "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 2,
    "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": 30_000,
    # no images, fonts or media: smaller pages, less memory, and nothing we read is in them
    "PLAYWRIGHT_ABORT_REQUEST": "crawlers.browser.abort_heavy_request",
}

_HEAVY = frozenset({"image", "media", "font"})


def abort_heavy_request(request: Any) -> bool:
    """PLAYWRIGHT_ABORT_REQUEST: skip images, media and fonts, which the parsers never read."""
    return str(getattr(request, "resource_type", "")) in _HEAVY
