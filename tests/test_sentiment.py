"""Sentiment: pure functions (no Elasticsearch). The model is loaded once per session by the first call."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from core.mention import Mention
from groundswell.cli.sentiment import sentiment as sentiment_cmd
from pipelines import sentiment as S
from pipelines.sentiment_model import train


@pytest.fixture(scope="session")
def validation_sample() -> list[str]:
    rows = train.read_rows()
    _, valid = train.split(rows)
    return [rows[i][2] for i in valid[::40]]  # ~130 held-out reviews, all categories


@pytest.fixture(scope="session")
def snownlp_with_our_model() -> Iterator[object]:
    """SnowNLP itself, with the shipped model loaded the documented way (load() appends '.3')."""
    import snownlp
    import snownlp.sentiment

    snownlp.sentiment.load(str(S.MODEL_DIR / "sentiment.marshal"))
    yield snownlp.SnowNLP
    snownlp.sentiment.load(snownlp.sentiment.data_path)


def test_fast_path_equals_snownlp(snownlp_with_our_model: type, validation_sample: list[str]) -> None:
    extra = ["很好用", "不好吃", "Good 但是不好 ok", "送餐很快！！！😀", "<p>质量&nbsp;很差</p>", "中文" * 200]
    extra += ["abc 123", "   空格  分开 "]
    for text in validation_sample + extra:
        assert S.model_probability(text) == snownlp_with_our_model(text).sentiments, text


def test_split_is_held_out_and_stable() -> None:
    rows = train.read_rows()
    tr, va = train.split(rows)
    assert not set(tr) & set(va)
    assert len(va) == pytest.approx(len(rows) * 0.1, rel=0.01)
    assert train.split(rows) == (tr, va)


@pytest.mark.parametrize("text", ["", "   ", "\n", "。。。！！", "@#$%^&*", "———", "<br/>", "&nbsp;"])
def test_empty_or_symbols_are_neutral(text: str) -> None:
    s = S.analyse(text)
    assert s.score == 0.5 and s.label == "neutral" and s.rules == ("empty",)


def test_none_is_neutral() -> None:
    assert S.score(None) == 0.5


def test_emoji_only() -> None:
    assert S.analyse("👍👍").label == "positive"
    assert S.analyse("😡").label == "negative"
    assert S.analyse("🙂🌀").score == 0.5  # unknown emoji: no evidence


def test_weibo_emoticons() -> None:
    assert S.analyse("[怒][泪]").label == "negative"
    assert S.analyse("[哈哈]").label == "positive"
    s = S.analyse("今天又加班[泪]")
    assert "emoticon:[泪]" in s.rules and s.score < S.analyse("今天又加班").score


def test_long_text_is_bounded_and_fast_enough() -> None:
    s = S.analyse("质量很好物流很快" * 1250)  # 10,000 characters, one unbroken Chinese run
    assert 0.0 <= s.score <= 1.0 and s.label == "positive"


def test_mixed_scripts() -> None:
    assert S.analyse("This phone is great, 很好用 👍").label == "positive"
    assert S.analyse("terrible service, 退款都不给").label == "negative"
    assert S.analyse("not good at all").label == "negative"


def test_html_is_ignored() -> None:
    plain = S.analyse("质量很差，不推荐")
    html = S.analyse('<div class="review"><p>质量很差，<b>不推荐</b></p></div>&nbsp;')
    assert html.label == plain.label == "negative"


def test_negation_flips() -> None:
    for pos, neg in [("好吃", "不好吃"), ("满意", "不满意"), ("推荐", "不推荐"), ("喜欢", "不喜欢")]:
        assert S.score(pos) > 0.5 > S.score(neg), (pos, neg)
    assert S.score("没问题") > 0.5
    assert S.score("不错") > 0.5  # a fixed phrase, not 不 + 错


def test_intensifier_strengthens() -> None:
    assert S.score("太差了") < S.score("差")


def test_sarcasm() -> None:
    assert S.analyse("呵呵，这就是你们的售后").label == "negative"
    assert S.analyse("等了两个小时，真是好极了").label == "negative"


def test_labels_and_thresholds() -> None:
    assert S.label_for(0.39) == "negative" and S.label_for(0.5) == "neutral" and S.label_for(0.61) == "positive"


def test_score_many_matches_score_in_parallel(validation_sample: list[str]) -> None:
    texts = [*(validation_sample * 4)[: S.PARALLEL_MIN + 20], "", "好"]
    texts = [f"{t} {i}" for i, t in enumerate(texts)]  # distinct, so the pool is really used
    assert S.score_many(texts, processes=2) == [S.score(t) for t in texts]


def test_pipeline_sets_mention_fields() -> None:
    pipe = S.SentimentPipeline.from_crawler(object())
    item = pipe.process_item(Mention(platform="weibo", text="客服态度太差了[怒]"))
    assert item.sentiment_label == "negative" and 0 <= item.sentiment_score < 0.4
    empty = pipe.process_item(Mention(platform="weibo", text=""))
    assert (empty.sentiment_score, empty.sentiment_label) == (0.5, "neutral")


def test_cli_one_line_per_input_line() -> None:
    data = "很好用\n\n不好吃\n".encode() + b"\xff\xfe broken\n" + "[怒]\r\n最后一行没有换行".encode()
    result = CliRunner().invoke(sentiment_cmd, [], input=data)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 6
    assert all(len(x) == 6 and x[1] == "." for x in lines)  # like 0.9731
    assert lines[1] == lines[3] == "0.5000"
    assert "line 4" in result.stderr


def test_cli_json() -> None:
    result = CliRunner().invoke(sentiment_cmd, ["--json"], input="不推荐\n\n".encode())
    recs = [json.loads(x) for x in result.stdout.splitlines()]
    assert [r["label"] for r in recs] == ["negative", "neutral"]
    assert "phrase:不推荐" in recs[0]["rules"] and recs[1]["score"] == 0.5
