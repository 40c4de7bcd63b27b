"""Durations written in Chinese or digits ("两个小时", "一个半小时", "四十分钟", "3天"), as minutes.

Complaints about waiting say how long ("等了两个小时"); a phrase list cannot enumerate every number, so the
taxonomy's `waits` rules find a duration here and compare it with a threshold.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_DIGIT = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNIT_MINUTES = {"小时": 60, "钟头": 60, "分钟": 1, "天": 1440, "周": 10080, "星期": 10080, "礼拜": 10080}
_NUM = r"[0-9]+(?:\.[0-9]+)?|[零一二两三四五六七八九十百几]+|半"
DURATION_RE = re.compile(rf"(?P<num>{_NUM})\s*个?\s*(?P<extra>多|半)?\s*个?\s*(?P<unit>小时|钟头|分钟|天|周|星期|礼拜)")


@dataclass(frozen=True)
class Duration:
    start: int
    end: int
    minutes: float
    text: str


def chinese_number(s: str) -> float | None:
    """"两" -> 2, "四十五" -> 45, "十" -> 10, "几" -> 3 (a few), "半" -> 0.5, "90" -> 90; None if unreadable."""
    if not s:
        return None
    if s[0].isdigit():
        return float(s)
    if s == "半":
        return 0.5
    if s == "几":
        return 3.0
    total = 0.0
    current = 0.0
    for ch in s:
        if ch in _DIGIT:
            current = _DIGIT[ch]
        elif ch == "几":
            current = 3
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


def durations(text: str) -> Iterator[Duration]:
    """Every duration in the (folded) text, with its span and length in minutes ("多" counts as the lower bound)."""
    for m in DURATION_RE.finditer(text):
        n = chinese_number(m.group("num"))
        if n is None:
            continue
        if m.group("extra") == "半":
            n += 0.5
        yield Duration(m.start(), m.end(), n * _UNIT_MINUTES[m.group("unit")], m.group(0))
