"""A small PNG bar chart of hourly mention counts, for the inline image of an incident email.

Written with zlib and struct only: no image library and no fonts (the numbers are in the email's text, next to
the image). The same counts give the same bytes, so a re-rendered email is identical.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

WIDTH = 480
HEIGHT = 120

# palette indices
_BACKGROUND, _AXIS, _BAR, _LAST, _GRID = 0, 1, 2, 3, 4
_PALETTE = bytes(
    [
        255, 255, 255,  # background
        110, 110, 110,  # axis and ticks
        70, 120, 190,  # bars
        214, 80, 50,  # the latest hour
        228, 228, 228,  # grid line at the peak
    ]
)

_LEFT, _RIGHT, _TOP, _BOTTOM = 6, 6, 8, 14  # margins: the axis sits at HEIGHT - _BOTTOM, ticks below it


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(pixels: Sequence[bytearray], palette: bytes) -> bytes:
    """An 8-bit palette PNG from rows of palette indices (all rows the same length)."""
    height = len(pixels)
    width = len(pixels[0]) if height else 0
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)  # filter type 0 on every row
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0))
        + _chunk(b"PLTE", palette)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def bar_chart(counts: Sequence[int], *, width: int = WIDTH, height: int = HEIGHT, tick_every: int = 6) -> bytes:
    """Bars of `counts` (oldest first) scaled to the largest; the last bar (the current hour) stands out.

    A non-zero count is always at least one pixel high, so "a few" is never drawn as "none". A tick under every
    `tick_every`-th bar, counted back from the last, marks the hours.
    """
    if width < _LEFT + _RIGHT + 1 or height < _TOP + _BOTTOM + 1:
        raise ValueError(f"chart too small: {width}x{height}")
    rows = [bytearray(width) for _ in range(height)]
    axis_y = height - _BOTTOM
    plot_h = axis_y - _TOP
    plot_w = width - _LEFT - _RIGHT
    peak = max(counts, default=0)
    if peak > 0:
        for x in range(_LEFT, width - _RIGHT):
            rows[_TOP][x] = _GRID
    n = len(counts)
    for i, count in enumerate(counts):
        x0 = _LEFT + (i * plot_w) // n
        x1 = _LEFT + ((i + 1) * plot_w) // n
        gap = max(1, (x1 - x0) // 5)
        if count > 0:
            bar_h = max(1, round(count * plot_h / peak))
            colour = _LAST if i == n - 1 else _BAR
            for y in range(axis_y - bar_h, axis_y):
                rows[y][x0 : x1 - gap] = bytes([colour]) * (x1 - gap - x0)
        if (n - 1 - i) % tick_every == 0:
            mid = (x0 + x1 - gap) // 2
            for y in range(axis_y + 1, axis_y + 5):
                rows[y][mid] = _AXIS
    rows[axis_y][_LEFT : width - _RIGHT] = bytes([_AXIS]) * plot_w
    return encode_png(rows, _PALETTE)
