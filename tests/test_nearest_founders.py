"""The batch's stored founders compared at once (clusters.nearest_founders) pick what one loop per founder and one
comparison per document picked: the same founder, the same similarity, for every document."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from pipelines.clusters import Founder, nearest_founders
from pipelines.near_duplicates import (
    NUM_PERM,
    SIMILAR,
    band_keys,
    many_band_ids,
    many_band_keys,
    signature,
    stacked,
)
from store.mapping import band_id, band_ids

T0 = datetime(2026, 10, 1, tzinfo=UTC)
STEMS = ["快递三天了还没发货，客服一直不回复，太失望了", "充电宝用了两天就充不进电，申请退款被拒绝",
         "耳机左边没声音，换货等了两个星期还没消息", "收到的手机屏幕有划痕，商家说是我自己弄的"]


def _loop(
    bands: list, sigs: list, times: list, brands: list, founders: list[Founder], window: timedelta,
) -> list[tuple[int, float] | None]:
    """The resolver's comparison before: the founders sharing a band key with a document, in their order, of its
    brand or none and within the window; the first most similar at or above SIMILAR."""
    founder_bands = [set(band_keys(f.array)) for f in founders]
    rows: dict[str, list[int]] = {}
    for i, sig in enumerate(sigs):
        if sig is not None and len(sig) == NUM_PERM:
            for band in bands[i]:
                rows.setdefault(band, []).append(i)
    near: dict[int, list[int]] = {}
    for c, fb in enumerate(founder_bands):
        for i in sorted({i for band in rows.keys() & fb for i in rows[band]}):
            near.setdefault(i, []).append(c)
    out: list[tuple[int, float] | None] = [None] * len(sigs)
    for i, candidates in near.items():
        ids = [c for c in candidates if (not brands[i] or founders[c].brand in (None, "", brands[i]))
               and (founders[c].seen is None or times[i] is None or abs(founders[c].seen - times[i]) <= window)]
        if ids:
            sims = np.count_nonzero(stacked([founders[c].array for c in ids]) == sigs[i], axis=1) / NUM_PERM
            best = int(np.argmax(sims))
            if sims[best] >= SIMILAR:
                out[i] = (ids[best], float(sims[best]))
    return out


def _text(rng: random.Random) -> str:
    """A complaint, copied with a few characters changed, or another one."""
    stem = list(rng.choice(STEMS))
    for _ in range(rng.randint(0, 6)):
        stem[rng.randrange(len(stem))] = rng.choice("的了是我不在有人这中大为上个国")
    return "".join(stem) + rng.choice(["", "！", "，真的无语", f"订单{rng.randint(1, 99)}"])


def _case(seed: int) -> tuple[list, list, list, list, list[Founder], timedelta]:
    """Founders and documents of copies of a few complaints, with brands, times and windows of every kind."""
    rng = random.Random(seed)
    brands_of = [None, "", "Lumio", "Kestrel"]
    founders = []
    for _ in range(rng.randint(1, 60)):
        sig = signature(_text(rng))
        assert sig is not None
        offset = timedelta(hours=rng.randint(-2000, 2000), microseconds=rng.randint(0, 9))
        seen = None if rng.random() < 0.1 else T0 + offset
        founders.append(Founder(sig, many_band_ids(sig[None, :])[0], rng.choice(brands_of), seen))
    sigs, bands, times, brands = [], [], [], []
    for _ in range(rng.randint(1, 120)):
        sig = signature(_text(rng)) if rng.random() > 0.05 else None
        sigs.append(sig)
        keys = list(band_keys(sig)) if sig is not None else []
        if keys and rng.random() < 0.05:  # a key no band_keys wrote: it equals no founder's
            keys[rng.randrange(len(keys))] = rng.choice(["", "XX", "05ABCDEF01", "０5abcdef01", "051234567890"])
        bands.append(keys)
        times.append(None if rng.random() < 0.1 else T0 + timedelta(hours=rng.randint(-2000, 2000)))
        brands.append(rng.choice(brands_of))
    window = rng.choice([timedelta(0), timedelta(hours=30), timedelta(days=30), timedelta(days=365)])
    return bands, sigs, times, brands, founders, window


SEEDS = range(16)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_same_choices_as_one_loop_per_founder(seed: int) -> None:
    case = _case(seed)
    assert nearest_founders(*case) == _loop(*case)


def test_the_cases_find_copies() -> None:
    """The cases above are not all misses: many documents find a founder, and not always the first candidate."""
    found = [x for seed in SEEDS for x in _loop(*_case(seed)) if x is not None]
    assert len(found) > 100 and len({i for i, _ in found}) > 20 and any(sim < 1.0 for _, sim in found)


def test_nothing_to_compare() -> None:
    sig = signature(STEMS[0])
    assert sig is not None
    f = Founder(sig, many_band_ids(sig[None, :])[0], None)
    assert nearest_founders([], [], [], [], [f], timedelta(days=30)) == []
    assert nearest_founders([list(band_keys(sig))], [sig], [None], [None], [], timedelta(days=30)) == [None]
    assert nearest_founders([()], [sig], [None], [None], [f], timedelta(days=30)) == [None]
    assert nearest_founders([list(band_keys(sig))], [sig], [None], [None], [f], timedelta(days=30)) == [(0, 1.0)]


def test_band_keys_as_numbers() -> None:
    sigs = np.stack([s for s in (signature(t) for t in STEMS) if s is not None])
    keys = many_band_keys(sigs)
    assert many_band_ids(sigs).tolist() == [[band_id(k) for k in ks] for ks in keys]
    flat = [k for ks in keys for k in ks]
    assert band_ids(flat).tolist() == [band_id(k) for k in flat]
    odd = ["05ABCDEF01", "0512345678", "", "051234567", "0512345678x", "０512345678", "05123456 8", "31ffffffff"]
    assert band_ids(odd).tolist() == [-1, band_id("0512345678"), -1, -1, -1, -1, -1, band_id("31ffffffff")]
    assert band_ids([]).tolist() == [] and many_band_ids(sigs[:0]).shape == (0, 32)
