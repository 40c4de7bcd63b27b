"""`groundswell sentiment`: one score line per stdin line, for quick checks and shell pipelines."""

from __future__ import annotations

import json
import sys

import click

from groundswell.cli.common import exit_statuses

_CHUNK = 20_000  # lines scored per batch: bounded memory on endless input, still big enough for both cores


@exit_statuses(OK="every line scored (a line that is not UTF-8 too, with a warning)")
@click.command()
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per line: score, label, sentiment rules, complaint categories and matched phrases.",
)
def sentiment(as_json: bool) -> None:
    """Score UTF-8 text from stdin, one document per line: P(positive) like 0.9731, one output line per input line.

    Labels: negative below 0.4, positive above 0.6, neutral between. An empty line scores 0.5 (neutral); a line
    that is not valid UTF-8 does too, with a warning naming its line number on stderr.
    """
    from pipelines.sentiment import Sentiment, analyse_many

    if as_json:
        from pipelines.complaint_model import load, tag_with_model
        from pipelines.complaints import default_rules, is_complaint

        rules = default_rules()
        model = load()

    stdin = sys.stdin.buffer
    out = sys.stdout
    batch: list[tuple[int, str | None]] = []

    def flush() -> None:
        results = analyse_many([t or "" for _, t in batch])
        for (number, text), s in zip(batch, results, strict=True):
            if text is None:
                click.echo(f"warning: line {number}: not valid UTF-8, scored as neutral", err=True)
                s = Sentiment(0.5, "neutral", ("invalid-utf8",))
            if as_json:
                tags = tag_with_model(text or "", rules, model)
                rec = {
                    "score": round(s.score, 4),
                    "label": s.label,
                    "rules": list(s.rules),
                    "categories": [*tags.categories, *tags.subcategories],
                    "phrases": list(tags.phrases),
                    "severity": tags.severity,
                    "is_complaint": is_complaint(tags, s.score),
                }
                out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            else:
                out.write(f"{s.score:.4f}\n")
        out.flush()
        batch.clear()

    for number, raw in enumerate(stdin, start=1):
        try:
            batch.append((number, raw.decode("utf-8").rstrip("\r\n")))
        except UnicodeDecodeError:
            batch.append((number, None))
        if len(batch) >= _CHUNK:
            flush()
    if batch:
        flush()


if __name__ == "__main__":
    sentiment(prog_name="groundswell sentiment")
