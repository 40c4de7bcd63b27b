"""The test credentials the simulator accepts, as the environment variables a crawl reads them from.

The simulator enforces what the platforms enforce (an OAuth app for Reddit, a login cookie for JD's search, a
logged-in browser profile for Xiaohongshu); `make demo` and the tests hand these to the crawls they run against
it. They open nothing but the simulator: none is a secret of a real account.
"""

from __future__ import annotations

from pathlib import Path

from sites import jd, reddit, xiaohongshu

JD_COOKIE = f"{jd.LOGIN_COOKIE}=groundswell-demo-login; pin=groundswell_demo"


def demo_env() -> dict[str, str]:
    """GROUNDSWELL_* variables that let every spider past the simulator's gates (Xiaohongshu's storage state is a
    file: see sites.xiaohongshu.write_storage_state)."""
    return {
        "GROUNDSWELL_REDDIT_CLIENT_ID": reddit.DEMO_CLIENT_ID,
        "GROUNDSWELL_REDDIT_CLIENT_SECRET": reddit.DEMO_CLIENT_SECRET,
        "GROUNDSWELL_COOKIES_JD": JD_COOKIE,
    }


def demo_storage_state(folder: Path, base_url: str) -> dict[str, str]:
    """Write the simulator's logged-in Xiaohongshu profile under `folder`; the variable that points a crawl at it."""
    path = xiaohongshu.write_storage_state(folder / "xiaohongshu-storage-state.json", base_url)
    return {"GROUNDSWELL_XHS_STORAGE_STATE": str(path)}
