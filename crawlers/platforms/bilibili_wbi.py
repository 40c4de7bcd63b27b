"""Bilibili's WBI request signature (`w_rid` + `wts`), which the web search and comment APIs require.

Reference: SocialSisterYi/bilibili-API-collect `docs/misc/sign/wbi.md` (the algorithm and its worked example:
img_key 7cd08494…, sub_key 4932caff… give mixin_key ea1db124…, and foo/bar/zab at wts 1702204169 give
w_rid 8f6f2b5b…, a test vector in tests/test_platforms.py); as used by NanmiCoder/MediaCrawler
`media_platform/bilibili/help.py` (BilibiliSign). The keys are the file names of `data.wbi_img.img_url` and
`sub_url` in `GET /x/web-interface/nav` (answered even when not logged in, with code -101); they rotate, so a
client caches them and fetches them again when a signed call is refused.

Values are percent-encoded the way the doc asks (`encodeURIComponent`: upper-case hex, space as %20).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

MIXIN_KEY_ENC_TAB = (
    46, 47, 18, 2, 53, 8, 23, 32, 15, 50, 10, 31, 58, 3, 45, 35, 27, 43, 5, 49,
    33, 9, 42, 19, 29, 28, 14, 39, 12, 38, 41, 13, 37, 48, 7, 16, 24, 55, 40,
    61, 26, 17, 0, 1, 60, 51, 30, 4, 22, 25, 54, 21, 56, 59, 6, 63, 57, 62, 11,
    36, 20, 34, 44, 52,
)  # fmt: skip
_DROPPED = str.maketrans("", "", "!'()*")


class WbiKeysMissing(ValueError):
    """The nav answer did not carry `data.wbi_img`: the keys cannot be read."""


def key_from_url(url: str) -> str:
    """The key an `img_url`/`sub_url` disguises: its file name without the extension."""
    return url.rsplit("/", 1)[-1].split(".", 1)[0]


def keys_from_nav(payload: Any) -> tuple[str, str]:
    """(img_key, sub_key) from a `/x/web-interface/nav` answer (logged in or not)."""
    data = payload.get("data") if isinstance(payload, dict) else None
    wbi = data.get("wbi_img") if isinstance(data, dict) else None
    img = wbi.get("img_url") if isinstance(wbi, dict) else None
    sub = wbi.get("sub_url") if isinstance(wbi, dict) else None
    if not isinstance(img, str) or not isinstance(sub, str) or not img or not sub:
        raise WbiKeysMissing("nav: data.wbi_img.img_url/sub_url missing")
    return key_from_url(img), key_from_url(sub)


def mixin_key(img_key: str, sub_key: str) -> str:
    """The 32 characters of img_key + sub_key picked by MIXIN_KEY_ENC_TAB."""
    raw = img_key + sub_key
    if len(raw) < 64:
        raise ValueError(f"WBI keys too short ({len(img_key)} + {len(sub_key)} characters, expected 32 + 32)")
    return "".join(raw[i] for i in MIXIN_KEY_ENC_TAB)[:32]


def w_rid(params: Mapping[str, Any], img_key: str, sub_key: str, wts: int) -> str:
    """The signature of `params` at `wts`: md5 of the sorted, filtered, encoded query plus the mixin key."""
    signed = {str(k): str(v).translate(_DROPPED) for k, v in {**params, "wts": wts}.items()}
    query = urlencode(sorted(signed.items()), quote_via=quote)
    return hashlib.md5((query + mixin_key(img_key, sub_key)).encode()).hexdigest()


def signed_query(params: Mapping[str, Any], img_key: str, sub_key: str, wts: int) -> str:
    """The query string to send: the original parameters, then `w_rid` and `wts`."""
    signature = w_rid(params, img_key, sub_key, wts)
    pairs = [(str(k), str(v)) for k, v in params.items()] + [("w_rid", signature), ("wts", str(wts))]
    return urlencode(pairs, quote_via=quote)
