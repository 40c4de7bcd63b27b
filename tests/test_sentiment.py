"""Sentiment: pure functions (no Elasticsearch). The model is loaded once per session by the first call."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from core.mention import Mention
from groundswell.cli.sentiment import sentiment as sentiment_cmd
from pipelines import sentiment as S
from pipelines.sentiment_model import corpora, train


@pytest.fixture(scope="session")
def validation_sample() -> list[str]:
    rows = train.read_rows()
    _, valid = train.split(rows)
    return [rows[i][2] for i in valid[::40]]  # ~130 held-out reviews, all categories


def test_corpora_are_in_the_repository() -> None:
    """A fresh clone trains and tests without ../shared beside it."""
    assert corpora.REVIEWS.is_relative_to(S.MODEL_DIR) and corpora.REVIEWS.exists()
    assert corpora.WEIBO.is_relative_to(S.MODEL_DIR) and corpora.WEIBO.exists()
    assert (S.MODEL_DIR / "model.npy").exists() and (S.MODEL_DIR / "model.json").exists()


def test_split_is_held_out_and_stable() -> None:
    rows = train.read_rows()
    tr, va = train.split(rows)
    assert not set(tr) & set(va)
    assert len(va) == pytest.approx(len(rows) * 0.1, rel=0.01)
    assert train.split(rows) == (tr, va)


def test_weibo_split_is_fixed_disjoint_and_made_on_ids_only() -> None:
    docs = corpora.read_weibo()
    assert len(docs) == 10_000
    ids = corpora.weibo_split_ids([d.id for d in docs])
    assert {k: len(v) for k, v in ids.items()} == {"test": 1000, "complaint_a": 400, "complaint_b": 400, "train": 8200}
    names = list(ids)
    assert all(not ids[a] & ids[b] for i, a in enumerate(names) for b in names[i + 1 :])
    assert corpora.weibo_split_ids([d.id for d in reversed(docs)]) == ids  # order of the file does not matter


def test_trainer_ratios_are_snownlps_own() -> None:
    """The Bayes evidence that scales the n-grams is what SnowNLP's own trainer computes on the same features."""
    rows = train.read_rows()
    docs = [corpora.Doc(str(i), c, y, t) for i, (c, y, t) in enumerate(rows[::400])]
    data = train.Featurised.build(docs)
    ours, prior = train.nb_ratios(data.x, data.y)
    theirs, their_prior = train.snownlp_nb_ratios(data.x, data.y)
    used = np.unique(data.x.indices)
    assert np.allclose(ours[used], theirs[used]) and prior == pytest.approx(their_prior)


def test_model_probability_is_the_folded_linear_model() -> None:
    """The scorer's numpy path and the trainer's sparse path give the same log-odds for the shipped weights."""
    m = S._model()
    texts = ["质量很好，物流也快", "等了一个半小时才到，饭都凉了[怒]", "a"]
    data = train.Featurised.build([corpora.Doc("x", "weibo", 1, t) for t in texts])
    lin = train.Linear(np.asarray(m.weights), m.bias, 0.0, m.normalise)
    z = lin.decision(data.x, np.zeros(len(texts)))
    assert [m.log_odds(t) for t in texts] == pytest.approx(list(z), abs=1e-4)


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
    assert S.analyse("没问题").label != "negative"  # "问题" is negative evidence in the data; the phrase rule lifts it
    assert S.score("不错") > 0.5  # a fixed phrase, not 不 + 错


def test_intensifier_strengthens() -> None:
    # in a sentence: a one-character text is all model weight, no room to show the rule
    assert S.score("质量太差了") < S.score("质量差")
    assert S.score("服务太差了") < S.score("服务差")


def test_sarcasm() -> None:
    assert S.analyse("呵呵，这就是你们的售后").label == "negative"
    assert S.analyse("等了两个小时，真是好极了").label == "negative"


def test_labels_and_thresholds() -> None:
    assert S.label_for(0.39) == "negative" and S.label_for(0.5) == "neutral" and S.label_for(0.61) == "positive"


def test_score_many_matches_score_in_parallel(validation_sample: list[str]) -> None:
    texts = [*(validation_sample * 20)[: S.PARALLEL_MIN + 20], "", "好"]
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


def test_reposts_are_judged_by_the_reposter() -> None:
    """'own words //@someone: quoted' : the reposter's own words decide, the quoted chain counts less."""
    assert S.analyse("太失望了，再也不买了 //@某店官方: 好吃又实惠，快来抢购！").label == "negative"
    assert S.analyse("必须支持，好用 //@路人: 太垃圾了，差评").label == "positive"
    only_quoted = S.analyse("转发微博 //@吃货日记本: 空气炸锅冒烟起火，差点把厨房烧了，大家千万别买")
    assert only_quoted.label == "negative"  # nothing of their own: the quoted text is all there is


def test_weibo_emoticons_inside_text() -> None:
    assert S.analyse("排了两个小时队，结果卖完了[怒]").label == "negative"
    assert S.analyse("终于拿到offer了[哈哈][哈哈]").label == "positive"


@pytest.mark.parametrize(
    "text",
    [
        "送餐太慢了，等了两个小时",
        "饭里有头发，恶心",
        "少送了一份米饭",
        "房间隔音太差了，一晚上没睡好",
        "骑手态度极差，还骂人",
    ],
)
def test_everyday_complaints_are_negative(text: str) -> None:
    assert S.analyse(text).label == "negative"


def test_demo_viral_complaints_are_negative() -> None:
    from sites.replay import VIRAL_COPY_ZH, VIRAL_REPOST, VIRAL_ZH

    texts = [VIRAL_ZH[0].format(b="北辰"), *(t.format(b="北辰") for t in VIRAL_COPY_ZH)]
    texts.append("#小米质量问题#新买的小米手机开机就黑屏，客服说是人为损坏拒绝保修，大家评评理[怒]")
    texts += [f"{r} //@吃货日记本: {texts[0]}" for r in VIRAL_REPOST]
    for t in texts:
        assert S.analyse(t).label == "negative", t
