"""Complaint tagging bench: precision/recall on the hand-labelled sets, and throughput.

Sets (tests/data/, each labelled by hand before the rules they measure were tuned; see their headers):
- complaint_weibo_a.tsv: 400 Weibo posts chosen by seed (a domain the rules were not written from);
- complaint_shop_heldout.tsv: 149 held-out shopping reviews (the rules' home domain);
- complaint_labels.tsv: 180 shopping reviews, the first labelled set;
- complaint_selfwritten.tsv: 90 self-written food-delivery/restaurant/hotel texts (optimistic, reported apart).

The complaint flag uses the shipped sentiment model's score (as in production); where a set carries the
dataset's own sentiment label, the flag with that label is shown too. "before" is the taxonomy as it was before
issue 12 (bench/data/complaint_taxonomy_before.yaml; its product_quality.food_safety sub-category counts as the
food_safety category so that the comparison is fair). Writes the "## Complaint tagging" section of
bench/RESULTS.md, leaving the other sections alone.

    nice -n 10 .venv/bin/python bench/tagging_bench.py [--no-write]
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipelines import complaint_model  # noqa: E402
from pipelines.complaints import TagResult, compile_rules, is_complaint, load_taxonomy, tag  # noqa: E402
from pipelines.sentiment import score_many  # noqa: E402
from pipelines.sentiment_model import corpora  # noqa: E402

DATA = ROOT / "tests" / "data"
BEFORE = ROOT / "bench" / "data" / "complaint_taxonomy_before.yaml"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Complaint tagging"
CATEGORIES = (
    "logistics", "product_quality", "food_safety", "service_attitude", "after_sales", "payment",
    "false_advertising", "security_fraud", "price_disputes",
)  # fmt: skip


@dataclass(frozen=True)
class Row:
    text: str
    complaint: bool
    categories: frozenset[str]
    sentiment_label: int | None  # the dataset's own label, when it has one


def _read(name: str, text_col: str, sent_col: str | None) -> list[Row]:
    lines = [x for x in (DATA / name).read_text(encoding="utf-8").splitlines() if not x.startswith("#")]
    out = []
    for r in csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE):
        cats = frozenset(c for c in r["categories"].split(",") if c)
        label = int(r[sent_col]) if sent_col else None
        out.append(Row(r[text_col], r["complaint"] == "1", cats, label))
    return out


def sets() -> dict[str, tuple[list[Row], bool]]:
    """name -> (rows, require_context): Weibo posts name no brand and carry no rating, as the pipeline sees them."""
    splits = corpora.weibo()

    def weibo(name: str, pool: str) -> list[Row]:
        labels = {d.id: d.label for d in splits[pool]}
        rows = _read(name, "text", None)
        lines = (DATA / name).read_text(encoding="utf-8").splitlines()
        mids = [x.split("\t", 1)[0] for x in lines if x and not x.startswith("#")][1:]
        return [Row(r.text, r.complaint, r.categories, labels[m]) for r, m in zip(rows, mids, strict=True)]

    return {
        "Weibo posts, split B (400, fresh: labelled before the rule changes made from split A's misses)": (
            weibo("complaint_weibo_b.tsv", "complaint_b"), True),
        "Weibo posts, split A (400; the context gate was written after reading its misses)": (
            weibo("complaint_weibo_a.tsv", "complaint_a"), True),
        "shopping, held-out (149)": (_read("complaint_shop_heldout.tsv", "text", "sentiment_label"), False),
        "shopping, first set (180)": (_read("complaint_labels.tsv", "review", "sentiment_label"), False),
        "self-written delivery/restaurant/hotel (90, optimistic)": (
            _read("complaint_selfwritten.tsv", "text", None), False),
    }  # fmt: skip


Tagger = Callable[[str, bool], TagResult]  # (text, require_context)


def taggers() -> dict[str, Tagger]:
    before = compile_rules(load_taxonomy(BEFORE))
    after = compile_rules(load_taxonomy())
    model = complaint_model.load()

    def old(text: str, context: bool) -> TagResult:
        r = tag(text, before)
        cats = {s.split(".")[0] for s in r.subcategories if s != "product_quality.food_safety"}
        if "product_quality.food_safety" in r.subcategories:
            cats.add("food_safety")
        return TagResult(tuple(c for c in CATEGORIES if c in cats), r.subcategories, r.phrases, r.severity)

    return {
        "before": old,
        "rules": lambda t, c: tag(t, after, require_context=c),
        "rules + model": lambda t, c: complaint_model.tag_with_model(t, after, model, require_context=c),
    }


def _pr(tp: int, fp: int, fn: int) -> str:
    p = f"{tp / (tp + fp):.2f}" if tp + fp else "n/a"
    r = f"{tp / (tp + fn):.2f}" if tp + fn else "n/a"
    return f"{p} / {r}"


def evaluate(rows: list[Row], tg: dict[str, Tagger], require_context: bool) -> list[str]:
    scores = score_many([r.text for r in rows])
    results = {name: [t(r.text, require_context) for r in rows] for name, t in tg.items()}
    head = "| what | gold | " + " | ".join(f"{n}: P / R" for n in tg) + " |"
    lines = [head, "|---" * (len(tg) + 2) + "|"]

    def counts(pred: list[bool], gold: list[bool]) -> tuple[int, int, int]:
        tp = sum(p and g for p, g in zip(pred, gold, strict=True))
        pairs = list(zip(pred, gold, strict=True))
        return tp, sum(p and not g for p, g in pairs), sum(g and not p for p, g in pairs)

    gold_flag = [r.complaint for r in rows]
    def flags(res: list[TagResult], s: list[float]) -> list[bool]:
        return [is_complaint(x, v) for x, v in zip(res, s, strict=True)]

    cells = [_pr(*counts(flags(res, scores), gold_flag)) for res in results.values()]
    lines.append(f"| complaint flag (model sentiment) | {sum(gold_flag)} | " + " | ".join(cells) + " |")
    if all(r.sentiment_label is not None for r in rows):
        ds = [0.1 if r.sentiment_label == 0 else 0.9 for r in rows]
        cells = [_pr(*counts(flags(res, ds), gold_flag)) for res in results.values()]
        lines.append(f"| complaint flag (dataset sentiment) | {sum(gold_flag)} | " + " | ".join(cells) + " |")
    for c in CATEGORIES:
        gold = [c in r.categories for r in rows]
        preds = {n: [c in x.categories for x in res] for n, res in results.items()}
        if not any(gold) and not any(any(p) for p in preds.values()):
            continue
        cells = [_pr(*counts(p, gold)) for p in preds.values()]
        lines.append(f"| {c} | {sum(gold)} | " + " | ".join(cells) + " |")
    tot = [0, 0, 0]
    micro = []
    for res in results.values():
        t = [0, 0, 0]
        for r, x in zip(rows, res, strict=True):
            got = set(x.categories)
            t[0] += len(got & r.categories)
            t[1] += len(got - r.categories)
            t[2] += len(r.categories - got)
        micro.append(_pr(*t))
        tot = t
    lines.append(f"| all categories (micro) | {tot[0] + tot[2]} | " + " | ".join(micro) + " |")
    return lines


def throughput(tg: dict[str, Tagger]) -> list[str]:
    shop, _ = corpora.reviews()
    texts = [d.text for d in shop] + [d.text for d in corpora.weibo()["train"]]
    out = []
    for name in ("rules", "rules + model"):
        t = tg[name]
        t(texts[0], False)
        t0 = time.perf_counter()
        tagged = sum(bool(t(x, False)) for x in texts)
        secs = time.perf_counter() - t0
        rate = len(texts) / secs
        out.append(f"- {name}: {len(texts):,} texts (train parts of both corpora) in {secs:.2f} s = "
                   f"**{rate:,.0f} texts/s** on one core; {tagged / len(texts):.0%} get a category.")  # fmt: skip
    t0 = time.perf_counter()
    rules = compile_rules(load_taxonomy())
    out.append(f"- compiling the taxonomy ({len(rules.automaton):,} folded phrases in one automaton): "
               f"{time.perf_counter() - t0:.2f} s (cached on disk across processes).")  # fmt: skip
    return out


NOTES = [
    "How to read these tables. P / R = precision / recall; \"gold\" = texts (or category labels) the labeller "
    "marked. \"before\" = the taxonomy before issue 12, \"rules\" = phrases + near + waits + the context gate, "
    "\"rules + model\" = what the pipeline ships (the weak-supervision model adds a top-level category at P >= 0.9; "
    "the threshold was fixed before any evaluation and not tuned).",
    "",
    "How the sets were made: each set's header in tests/data/ says how its texts were chosen (by seed, before "
    "reading) and the labelling rules. One labeller (the developer), no second opinion. Weibo split A was "
    "labelled before any rule work; after reading its misses (personal posts tagged through generic words such "
    "as 骗子, 骂我, 坏了, 套路) the commerce-context gate was added, and split B, labelled before that change was "
    "written, measures it fresh. The self-written set was written and labelled before the near/waits rules, by "
    "the same person who then wrote them: its figures are optimistic and shown only to say the rules do what "
    "they were written for.",
    "",
    "Targets (issue 12): recall and precision >= 0.80 for logistics, product quality and food safety, >= 0.60 "
    "for service and after-sales, on domains not used to build the rules.",
    "- Random Weibo posts hold almost no brand complaints (7 and 10 in 400 each, mostly product quality and "
    "price), so per-category figures there rest on 0-5 texts and cannot confirm or refute a target; what they "
    "do show is the flag's precision on the open web, which the new rules (the context gate above all) raised "
    "from 0.31 to 0.60 on the fresh split (recall 0.40 -> 0.30: one complaint worded only with a generic word "
    "is now missed).",
    "- No real food-delivery, restaurant or hotel complaints could be had here (the public sets are reserved "
    "for the independent evaluation). On the self-written ones the new rules reach logistics 0.73 / 0.79, "
    "product quality 0.86 / 1.00, food safety 0.88 / 0.94, service 0.80 / 0.80, after-sales 1.00 / 1.00 "
    "(from 0.57 / 0.29, 0.33 / 0.17, 0.71 / 0.31, 0.83 / 0.50): optimistic, see above.",
    "- The gap that stays: on real shopping reviews recall is low (product quality 0.44, logistics 0.53, "
    "service 0.30, price 0.15 on the held-out set), mostly at high precision (logistics 0.57, food safety 0.50 on "
    "4 texts). Reviews list shortcomings in open "
    "wording (\"拍照效果一般\", \"声音小\", \"太小了\") that neither phrases nor a model trained on the "
    "phrases' own hits can reach; the weak-supervision model adds 4 points of flag recall there and little "
    "elsewhere. Closing it needs labelled complaint texts to train on, which the repository does not have.",
]


def write_section(body: list[str]) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Bench results\n"
    section = "\n".join([SECTION, "", *body]).rstrip() + "\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print only, leave bench/RESULTS.md alone")
    args = parser.parse_args()
    tg = taggers()
    body: list[str] = [
        "`nice -n 10 .venv/bin/python bench/tagging_bench.py`: pipelines/complaints.py with "
        "pipelines/complaint_taxonomy.yaml (9 categories, 35 sub-categories) and pipelines/complaint_model.py. "
        "The complaint flag uses the shipped sentiment model; where a set has the dataset's own sentiment label, "
        "the flag with that label is shown too. Weibo posts are tagged as the pipeline tags a mention that names "
        "no brand and has no rating (the commerce-context gate applies); reviews as rated mentions.",
        "",
    ]
    for name, (rows, context) in sets().items():
        body += [f"**{name}**", "", *evaluate(rows, tg, context), ""]
    body += ["Throughput (one core of the shared 2-core machine):", "", *throughput(tg), ""]
    body += NOTES
    print("\n".join(body))
    if not args.no_write:
        write_section(body)


if __name__ == "__main__":
    main()
