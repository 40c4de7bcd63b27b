"""The test credentials the simulator accepts, as the environment variables a crawl reads them from.

The simulator enforces what the platforms enforce (an OAuth app for Reddit, a login cookie for JD's search, a
logged-in browser profile for Xiaohongshu); `make demo` and the tests hand these to the crawls they run against
it. They open nothing but the simulator: none is a secret of a real account.
"""

from __future__ import annotations

from sites import jd, reddit

JD_COOKIE = f"{jd.LOGIN_COOKIE}=groundswell-demo-login; pin=groundswell_demo"


def demo_env() -> dict[str, str]:
    """GROUNDSWELL_* variables that let every spider past the simulator's gates (Xiaohongshu's storage state is a
    file: see sites.xiaohongshu.write_storage_state)."""
    return {
        "GROUNDSWELL_REDDIT_CLIENT_ID": reddit.DEMO_CLIENT_ID,
        "GROUNDSWELL_REDDIT_CLIENT_SECRET": reddit.DEMO_CLIENT_SECRET,
        "GROUNDSWELL_COOKIES_JD": JD_COOKIE,
    }
