"""The CRC-32 of every character n-gram of many texts at once, with numpy: what near_duplicates' MinHash hashes.

`zlib.crc32(gram.encode())` over each of a post's ~45 shingles (built as a set of strings first) was half of its
fingerprint's cost (~45 us of ~97). Here the texts' code points go into one array, each code point's UTF-8 bytes
are derived from it, and every n-gram's CRC-32 runs through zlib's byte table in n x 4 masked steps over all the
batch's n-grams together: the very values zlib gives for the n-gram's UTF-8 bytes.

A text's n-grams are kept as a set of their CRCs (`distinct`): a shingle set and its set of CRCs give the same
MinHash (equal CRCs hash equally), and they have the same size but for a CRC collision inside one text, which the
caller settles with the shingle set itself (near_duplicates.signatures).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def crc_table() -> np.ndarray:
    """zlib's CRC-32 (reflected, polynomial 0xEDB88320) byte table."""
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0xEDB88320), table >> 1).astype(np.uint32)
    return table


CRC = crc_table()
_EIGHT = np.uint32(8)
_LOW = np.uint32(0xFF)
_ALL = np.uint32(0xFFFFFFFF)


def utf8_bytes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 encoding of each code point (no surrogates): a (len, 4) uint8 array of its bytes, first at
    column 0, and how many of them it has (1 to 4)."""
    cp = points.astype(np.uint32)
    length = np.where(cp < 0x80, 1, np.where(cp < 0x800, 2, np.where(cp < 0x10000, 3, 4))).astype(np.uint8)
    out = np.zeros((len(cp), 4), dtype=np.uint8)
    # the lead byte: the code point itself below 0x80, else the length's marker and the top bits
    lead_shift = np.array([0, 0, 6, 12, 18], dtype=np.uint32)[length]
    marker = np.array([0, 0, 0xC0, 0xE0, 0xF0], dtype=np.uint32)[length]
    out[:, 0] = (marker | (cp >> lead_shift)).astype(np.uint8)
    # continuation bytes: 6 bits each, from the top down
    for j in range(1, 4):
        shift = np.clip(6 * (length.astype(np.int64) - 1 - j), 0, None).astype(np.uint32)
        out[:, j] = np.where(j < length, 0x80 | ((cp >> shift) & 0x3F), 0).astype(np.uint8)
    return out, length


def distinct(texts: Sequence[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """(text index, CRC-32) of every distinct n-gram CRC of every text, sorted by text then CRC: the CRC-32 of the
    UTF-8 bytes of each run of n characters (a text shorter than n has none). The texts hold no surrogate
    (a UnicodeEncodeError otherwise, as `str.encode` gives)."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    if not len(texts) or int(lengths.max(initial=0)) < n:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint32)
    points = np.frombuffer("".join(texts).encode("utf-32-le"), dtype="<u4")
    ends = np.cumsum(lengths)
    owner = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)  # the text of each character
    # an n-gram starts at every character with n - 1 more of its own text after it
    starts = np.flatnonzero(np.arange(len(points)) + n <= ends[owner])
    raw, count = utf8_bytes(points)
    crc = np.full(len(starts), 0xFFFFFFFF, dtype=np.uint32)
    for k in range(n):
        at = starts + k
        chars, used = raw[at], count[at]
        for j in range(4):
            step = CRC[(crc ^ chars[:, j]) & _LOW] ^ (crc >> _EIGHT)
            crc = step if j == 0 else np.where(j < used, step, crc)
    crc ^= _ALL
    keys = (owner[starts].astype(np.uint64) << np.uint64(32)) | crc.astype(np.uint64)
    keys.sort()  # then the first of each run of equal keys (np.unique hashes them: four times the cost)
    keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if len(keys) else keys
    return (keys >> np.uint64(32)).astype(np.int64), (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32)
