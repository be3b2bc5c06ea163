"""Build the shipped labelling models into yuqing/text/model_files/.

Data (read in place, never copied into the repository):
- the project's own examples: yuqing/text/training/templates.txt + schemes.json, expanded here
  into yuqing/text/training/posts.jsonl (deterministic);
- public corpora under ../shared/data (see each SOURCE.md): osm_weibo_school_incidents (train
  split only), chnsenticorp_htl_all, waimai_10k, clue_emotion2020_weibo, tnews_toutiao_titles.

Never trains on the evaluation sets (../shared/eval). Run:
    .venv/bin/python scripts/build_models.py
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from yuqing.text.classify import (  # noqa: E402
    MODEL_FILES,
    RELEVANCE_FEATURES,
    Classifier,
    SchemeWords,
    _relevance_features,
    simple_match,
)
from yuqing.text.models import FeatureSpec, TextModel, train  # noqa: E402
from yuqing.text.types import TOPICS, Post  # noqa: E402

DATA = (ROOT / ".." / "shared" / "data").resolve()
TRAINING = ROOT / "yuqing" / "text" / "training"
OUT = ROOT / "yuqing" / "text" / "model_files"
SEED = 20261125
T0 = time.time()


def log(msg: str) -> None:
    print(f"[{time.time() - T0:6.1f}s] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# The project's own examples
# ---------------------------------------------------------------------------------------------
GRADES = ["高一", "高二", "高三", "初一", "初二", "初三"]
SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙"]
FILLERS = [
    "本周全市天气以多云为主，周末有一次降雨过程，最高气温二十二度。",
    "市交通部门提醒，地铁三号线北延段将于月底开通试运营。",
    "{R}市图书馆新馆本周末开放，市民可凭身份证免费借阅。",
    "今年前三季度，全市规模以上工业增加值同比增长百分之六点二。",
    "市卫健委提醒，秋冬季节昼夜温差大，老人和儿童要注意增减衣物。",
    "滨湖公园菊花展将持续到下月中旬，展出品种三百余个。",
    "市场监管部门近期抽检了二百批次食品，合格率为百分之九十八。",
    "文化馆推出周末公益课堂，内容包括书法、剪纸和民乐。",
    "据气象部门预计，下周将有一股冷空气南下，请市民注意防寒。",
    "市人社局发布通知，今年的灵活就业人员社保补贴开始申报。",
    "新建的城东体育中心已完成主体结构施工，预计明年投入使用。",
    "老旧小区改造工程进展顺利，已有十二个小区完成外立面翻新。",
    "市消防救援支队提醒，冬季使用电暖器要注意防火。",
    "近日，{R}市举办了第五届农民丰收节，展销本地特色农产品。",
    "城市管理部门对主干道两侧的违规广告牌进行了集中清理。",
]
# One sentence deep inside a long article: (text, relevant, sentiment, topic, risk).
DEEP = [
    (
        "{S}{G}有{N}名学生因流感请假，学校已对相关班级教室进行消毒，并加强了晨午检。",
        1,
        "neutral",
        "health",
        0,
    ),
    (
        "另据了解，{S}食堂因后厨卫生不达标被市场监管部门责令限期整改，多名家长对此表示担忧。",
        1,
        "negative",
        "food_lodging",
        2,
    ),
    (
        "{S}一名{G}学生在上学途中被电动车撞伤，目前仍在医院治疗，学校已联系家长并开展交通安全教育。",
        1,
        "negative",
        "emergency",
        3,
    ),
    (
        "{S}学生在全国青少年科技创新大赛中获得一等奖，是本市唯一获此殊荣的中学。",
        1,
        "positive",
        "campus_news",
        0,
    ),
    (
        "有家长反映，{S}本学期向学生收取了三百元资料费，未见收费公示，教育部门表示将调查核实。",
        1,
        "negative",
        "fees",
        2,
    ),
    (
        "本次考试的考点设在{S2}、{S}和市职业技术学院，考生须提前一天查看考场。",
        0,
        "neutral",
        "admissions_exams",
        0,
    ),
    ("改线后，公交{N}路将途经{X}、人民公园、火车站等站点。", 0, "neutral", "other", 0),
    ("活动地点位于{S}对面的市民广场，届时将有文艺演出。", 0, "neutral", "other", 0),
    ("新开的社区食堂位于{S}东侧，主要面向周边老年居民提供午餐。", 0, "neutral", "other", 0),
]
DEEP_TITLES = ["{R}本周要闻", "{R}民生简报（第{N}期）", "一周城事", "{R}新闻早知道", "本地资讯汇总"]


def expand_templates(rng: random.Random) -> list[dict[str, Any]]:
    """Render templates.txt against the fictional schemes."""
    schemes = json.loads((TRAINING / "schemes.json").read_text(encoding="utf-8"))
    rows = []
    for raw in (TRAINING / "templates.txt").read_text(encoding="utf-8").splitlines():
        if raw.strip() and not raw.startswith("#"):
            rows.append(raw.split("|"))
    posts: list[dict[str, Any]] = []
    n = 0
    for tid, (stype, rel, sent, topic, risk, title, text) in enumerate(rows):
        for sc in rng.sample(schemes, 3):
            n += 1
            fill = _filler(sc, rng)
            src, author = _source(stype, rel == "1", sc, fill, text)
            if "我校" in text and rel == "1":
                # The same notice from a sibling school's account: "我校" is that school.
                n += 1
                posts.append(
                    {
                        "id": f"t{n:04d}",
                        "template": tid,
                        "scheme": sc["name"],
                        "source_type": stype,
                        "source_name": src,
                        "author": rng.choice(sc["sibling"]),
                        "title": title.format(**fill),
                        "text": text.format(**fill).replace(fill["S"], fill["S2"]),
                        "relevant": False,
                        "sentiment": sent,
                        "topic": topic,
                        "risk": 0,
                    }
                )
                n += 1
            posts.append(
                {
                    "id": f"t{n:04d}",
                    "template": tid,
                    "scheme": sc["name"],
                    "source_type": stype,
                    "source_name": src,
                    "author": author,
                    "title": title.format(**fill),
                    "text": text.format(**fill),
                    "relevant": rel == "1",
                    "sentiment": sent,
                    "topic": topic,
                    "risk": int(risk),
                }
            )
    # Long articles with one mention deep inside.
    for k in range(len(DEEP) * 6):
        tid = len(rows) + k % len(DEEP)
        text_t, d_rel, d_sent, d_topic, d_risk = DEEP[k % len(DEEP)]
        sc = rng.choice(schemes)
        fill = _filler(sc, rng)
        before = rng.sample(FILLERS, rng.randint(5, 8))
        after = rng.sample([f for f in FILLERS if f not in before], rng.randint(1, 3))
        body = "".join(before) + text_t + "".join(after)
        n += 1
        posts.append(
            {
                "id": f"t{n:04d}",
                "template": tid,
                "scheme": sc["name"],
                "source_type": "news",
                "source_name": f"{sc['region_words'][0]}日报",
                "author": "",
                "title": rng.choice(DEEP_TITLES).format(**fill),
                "text": body.format(**fill),
                "relevant": bool(d_rel),
                "sentiment": d_sent if d_rel else "neutral",
                "topic": d_topic,
                "risk": d_risk,
            }
        )
    return posts


def _filler(sc: dict[str, Any], rng: random.Random) -> dict[str, str]:
    other = rng.choice(sc["other"])
    return {
        "S": rng.choice(sc["subject_words"]),
        "s": sc["short"],
        "R": sc["region_words"][0],
        "S2": rng.choice(sc["sibling"]),
        "OS": other,
        "O": re.sub(r"(市|县)?(第?[一二三四五六七八九十]+中.*|实验中学)$", "", other),
        "X": rng.choice(sc["exclude"]),
        "T": rng.choice(SURNAMES),
        "G": rng.choice(GRADES),
        "N": str(rng.randint(2, 9)),
        "M": str(rng.randint(1, 30) * 50),
    }


def _source(
    stype: str, relevant: bool, sc: dict[str, Any], fill: dict[str, str], text: str
) -> tuple[str, str]:
    town = fill["R"] if relevant or "{OS}" not in text else fill["O"]
    if stype == "news":
        return f"{town}{random.Random(text).choice(['日报', '晚报', '新闻网'])}", ""
    if stype == "wechat":
        if "我校" in text:
            return "微信公众号", sc["name"]
        return "微信公众号", f"{town}教育发布"
    if stype == "forum":
        return f"{town}论坛", "网友"
    if stype == "petition":
        return f"{town}市民信箱", "市民"
    names = {"weibo": "微博", "qa": "问答社区", "video": "短视频平台"}
    return names.get(stype, stype), "用户"


# ---------------------------------------------------------------------------------------------
# Public corpora
# ---------------------------------------------------------------------------------------------
def load_osm(split: str) -> tuple[list[str], np.ndarray]:
    d = DATA / "osm_weibo_school_incidents"
    texts = [
        ln.rstrip("\n").replace(" ", "")
        for ln in (d / f"{split}_review.txt").open(encoding="utf-8")
    ]
    labels = np.array([int(x) for x in (d / f"{split}_label.txt").open(encoding="utf-8")])
    assert len(texts) == len(labels)
    return texts, labels


def load_csv_reviews(rel: str) -> list[tuple[str, int]]:
    with (DATA / rel).open(encoding="utf-8-sig") as fh:
        return [(r["review"], int(r["label"])) for r in csv.DictReader(fh) if r.get("review")]


def load_clue() -> list[tuple[str, str]]:
    out = []
    for f in ("valid", "test"):
        for ln in (DATA / "clue_emotion2020_weibo" / f"{f}.jsonl").open(encoding="utf-8"):
            r = json.loads(ln)
            out.append((r["content"], r["label"]))
    return out


def load_tnews() -> list[tuple[str, str]]:
    out = []
    for ln in (DATA / "tnews_toutiao_titles" / "dev.jsonl").open(encoding="utf-8"):
        r = json.loads(ln)
        out.append((r["sentence"], r["label_desc"]))
    return out


# ---------------------------------------------------------------------------------------------
def full_text(p: dict[str, Any]) -> str:
    return f"{p['title']}。{p['text']}" if p.get("title") else p["text"]


def relevance_inputs(
    posts: list[dict[str, Any]], schemes: dict[str, SchemeWords]
) -> tuple[list[str], np.ndarray]:
    contexts, feats = [], []
    for p in posts:
        sw = schemes[p["scheme"]]
        post = Post(
            id=p["id"],
            text=p["text"],
            title=p["title"],
            source_type=p["source_type"],
            source_name=p["source_name"],
            author=p["author"],
        )
        f, ctx, _r, _h = _relevance_features(post, simple_match(sw, p["title"], p["text"]), sw)
        contexts.append(ctx)
        feats.append(f)
    return contexts, np.array(feats, dtype=np.float32)


def main() -> None:
    rng = random.Random(SEED)
    OUT.mkdir(parents=True, exist_ok=True)
    log(f"data folder: {DATA}")

    own = expand_templates(rng)
    with (TRAINING / "posts.jsonl").open("w", encoding="utf-8") as fh:
        for p in own:
            fh.write(json.dumps(p, ensure_ascii=False) + "\n")
    log(f"own examples: {len(own)} posts written to {TRAINING / 'posts.jsonl'}")
    schemes = {
        s["name"]: SchemeWords.coerce(s)
        for s in json.loads((TRAINING / "schemes.json").read_text(encoding="utf-8"))
    }
    # Hold out whole templates (not copies of seen ones) for an honest sanity check.
    held_templates = set(rng.sample(sorted({p["template"] for p in own}), 25))
    own_tr = [p for p in own if p["template"] not in held_templates]
    own_ho = [p for p in own if p["template"] in held_templates]

    osm_x, osm_y = load_osm("train")
    osm_ex, osm_ey = load_osm("evl")
    log(f"osm train {len(osm_x)}, eval {len(osm_ex)}")
    htl = load_csv_reviews("chnsenticorp_htl_all/ChnSentiCorp_htl_all.csv")
    waimai = load_csv_reviews("waimai_10k/waimai_10k.csv")
    clue = load_clue()
    tnews = load_tnews()
    rng.shuffle(htl)
    rng.shuffle(waimai)
    rng.shuffle(clue)
    rng.shuffle(tnews)
    log(f"htl {len(htl)}, waimai {len(waimai)}, clue {len(clue)}, tnews {len(tnews)}")
    spec = FeatureSpec()
    counts: dict[str, Any] = {}
    metrics: dict[str, Any] = {}

    # -- negative vs not ------------------------------------------------------------------
    def neg_data(own_part: list[dict[str, Any]]) -> tuple[list[str], list[str], list[float]]:
        X, y, w = [], [], []
        # osm is Weibo comments on social-movement events (mostly angry); the school posts the
        # engine sees are closer to the project's own examples, which therefore weigh most.
        X += osm_x
        y += ["neg" if v > 0 else "not" for v in osm_y]
        w += [0.3] * len(osm_x)
        # News headlines are plain reports: they teach that news style is not complaint.
        news = [t for t, _lab in tnews[:3000]]
        X += news
        y += ["not"] * len(news)
        w += [0.3] * len(news)
        for q in own_part:
            X.append(full_text(q))
            y.append("neg" if q["sentiment"] == "negative" else "not")
            w.append(4.0)
        for t, lab in htl[:3000] + waimai[:3000]:
            X.append(t)
            y.append("not" if lab == 1 else "neg")
            w.append(0.5)
        for t, emo in clue[:2000]:
            if emo == "surprise":
                continue
            X.append(t)
            y.append("neg" if emo in ("sadness", "anger", "disgust", "fear") else "not")
            w.append(0.5)
        return X, y, w

    X, y, w = neg_data(own_tr)
    log(f"negative model (holdout run): {len(X)} rows {dict(Counter(y))}")
    m = train(X, y, classes=("not", "neg"), sample_weight=w, spec=spec, C=8.0)
    p_osm = m.predict_proba(osm_ex)[:, 1]
    metrics["osm_eval_negative_macro_f1"] = round(
        float(f1_score(osm_ey > 0, p_osm >= 0.5, average="macro")), 4
    )
    # The same learner on the osm train split alone, for comparison with the benchmark's
    # plain char n-gram baseline (the shipped model trades some of this for school posts).
    m_osm = train(osm_x, ["neg" if v > 0 else "not" for v in osm_y], classes=("not", "neg"), C=8.0)
    p_osm = m_osm.predict_proba(osm_ex)[:, 1]
    metrics["osm_eval_negative_macro_f1_osm_only_model"] = round(
        float(f1_score(osm_ey > 0, p_osm >= 0.5, average="macro")), 4
    )
    ph = m.predict_proba([full_text(q) for q in own_ho])[:, 1]
    metrics["own_holdout_negative_macro_f1"] = round(
        float(f1_score([q["sentiment"] == "negative" for q in own_ho], ph >= 0.5, average="macro")),
        4,
    )
    log(
        f"  osm eval macro-F1 {metrics['osm_eval_negative_macro_f1']}, "
        f"own holdout {metrics['own_holdout_negative_macro_f1']}"
    )
    # -- short-text (Weibo comment) model and its blend with the school-post model ----------
    # NB-LR over binary char 1-4-grams, trained on osm's train split plus the project's own
    # posts. The blend weights (log-odds of both models) are fitted on rows neither model saw:
    # a 20 % slice of osm train and the held-out templates. The osm eval split is not used.
    short_spec = FeatureSpec(n_features=2**20, ngram_min=1, ngram_max=4, binary=True)
    osm_idx = np.random.RandomState(SEED % 2**31).permutation(len(osm_x))
    cut = int(0.8 * len(osm_x))
    o_tr, o_ho = osm_idx[:cut], osm_idx[cut:]

    def short_data(
        idx: np.ndarray, own_part: list[dict[str, Any]]
    ) -> tuple[list[str], list[str], list[float]]:
        X = [osm_x[i] for i in idx] + [full_text(q) for q in own_part]
        y = ["neg" if osm_y[i] > 0 else "not" for i in idx] + [
            "neg" if q["sentiment"] == "negative" else "not" for q in own_part
        ]
        return X, y, [1.0] * len(idx) + [2.0] * len(own_part)

    def fit_short(X: list[str], y: list[str], w: list[float]) -> TextModel:
        return train(
            X,
            y,
            classes=("not", "neg"),
            sample_weight=w,
            spec=short_spec,
            C=0.3,
            class_weight=None,
            nb=True,
            max_nonzero=250_000,
            meta={"task": "negative-vs-not, short texts"},
        )

    X, y, w = short_data(o_tr, own_tr)
    log(f"short-text model (holdout run): {len(X)} rows")
    s_ho = fit_short(X, y, w)
    # The school-post model again, without the held-out osm rows (neg_data puts osm first).
    X, y, w = neg_data(own_tr)
    keep = np.ones(len(X), dtype=bool)
    keep[o_ho] = False
    m_ho = train(
        [t for t, k in zip(X, keep, strict=True) if k],
        [v for v, k in zip(y, keep, strict=True) if k],
        classes=("not", "neg"),
        sample_weight=[v for v, k in zip(w, keep, strict=True) if k],
        spec=spec,
        C=8.0,
    )
    ho_texts = [osm_x[i] for i in o_ho] + [full_text(q) for q in own_ho]
    ho_y = np.array([osm_y[i] > 0 for i in o_ho] + [q["sentiment"] == "negative" for q in own_ho])
    ho_w = np.array([1.0] * len(o_ho) + [10.0] * len(own_ho))
    Z = np.column_stack(
        [
            m_ho.decision(m_ho.featurize(ho_texts))[:, 0],
            s_ho.decision(s_ho.featurize(ho_texts))[:, 0],
        ]
    )
    stack = LogisticRegression(C=1.0).fit(Z, ho_y, sample_weight=ho_w)
    blend = [float(stack.coef_[0][0]), float(stack.coef_[0][1]), float(stack.intercept_[0])]
    log(f"  blend (school, short, bias) = {[round(b, 3) for b in blend]}")
    zb = Z @ np.array(blend[:2]) + blend[2]
    n_o = len(o_ho)
    metrics["osm_train_holdout_macro_f1_blend"] = round(
        float(f1_score(ho_y[:n_o], zb[:n_o] > 0, average="macro")), 4
    )
    metrics["osm_train_holdout_macro_f1_short_alone"] = round(
        float(f1_score(ho_y[:n_o], Z[:n_o, 1] > 0, average="macro")), 4
    )
    log(f"  osm train-holdout macro-F1: blend {metrics['osm_train_holdout_macro_f1_blend']}")
    X, y, w = short_data(np.arange(len(osm_x)), own)
    counts["short"] = dict(Counter(y))
    short_model = fit_short(X, y, w)
    short_model.meta["blend"] = blend
    p_short = short_model.predict_proba(osm_ex)[:, 1]
    metrics["osm_eval_negative_macro_f1_short_model_alone"] = round(
        float(f1_score(osm_ey > 0, p_short >= 0.5, average="macro")), 4
    )

    X, y, w = neg_data(own)
    counts["negative"] = dict(Counter(y))
    neg_model = train(
        X,
        y,
        classes=("not", "neg"),
        sample_weight=w,
        spec=spec,
        C=8.0,
        meta={"task": "negative-vs-not"},
    )

    # -- positive vs neutral (among non-negative) --------------------------------------------
    def pos_data(own_part: list[dict[str, Any]]) -> tuple[list[str], list[str], list[float]]:
        # Positive vs everything else: complaints are "not positive" too, so the model does not
        # call a complaint positive just because it reads like a (positive) review.
        X, y, w = [], [], []
        for q in own_part:
            X.append(full_text(q))
            y.append("positive" if q["sentiment"] == "positive" else "not")
            w.append(3.0)
        reviews = [(t, lab) for t, lab in htl[3000:] + waimai[3000:]]
        pos_reviews = [t for t, lab in reviews if lab == 1][:1500]
        neg_reviews = [t for t, lab in reviews if lab == 0][:1500]
        X += pos_reviews + neg_reviews
        y += ["positive"] * len(pos_reviews) + ["not"] * len(neg_reviews)
        w += [0.5] * (len(pos_reviews) + len(neg_reviews))
        emo = clue[2000:]
        happy = [t for t, lab in emo if lab in ("like", "happiness")][:1000]
        sad = [t for t, lab in emo if lab in ("sadness", "anger", "disgust", "fear")][:1000]
        X += happy + sad
        y += ["positive"] * len(happy) + ["not"] * len(sad)
        w += [0.5] * (len(happy) + len(sad))
        news = [t for t, _lab in tnews[:3000]]
        X += news
        y += ["not"] * len(news)
        w += [0.5] * len(news)
        return X, y, w

    X, y, w = pos_data(own)
    counts["positive"] = dict(Counter(y))
    log(f"positive-vs-rest model: {len(X)} rows {dict(Counter(y))}")
    pos_model = train(
        X,
        y,
        classes=("not", "positive"),
        sample_weight=w,
        spec=spec,
        C=4.0,
        meta={"task": "positive-vs-rest"},
    )

    # -- topic ----------------------------------------------------------------------------
    def topic_data(own_part: list[dict[str, Any]]) -> tuple[list[str], list[str], list[float]]:
        X = [full_text(q) for q in own_part]
        y = [q["topic"] for q in own_part]
        # Irrelevant examples (streets, adverts, other schools) keep their topics but weigh
        # less: the topic is judged on posts about the school.
        w = [1.0 if q["relevant"] else 0.4 for q in own_part]
        return X, y, w

    X, y, w = topic_data(own_tr)
    tm = train(X, y, classes=TOPICS, sample_weight=w, spec=spec, C=8.0)
    clf_tmp = Classifier({"topic": tm, "negative": neg_model, "positive": pos_model})
    pred = [lab.topic for lab in clf_tmp.label_many([_post(q) for q in own_ho])]
    metrics["own_holdout_topic_macro_f1"] = round(
        float(f1_score([q["topic"] for q in own_ho], pred, average="macro")), 4
    )
    log(f"topic holdout macro-F1 {metrics['own_holdout_topic_macro_f1']}")
    X, y, w = topic_data(own)
    counts["topic"] = dict(Counter(y))
    log(f"topic model: {len(X)} rows")
    topic_model = train(
        X, y, classes=TOPICS, sample_weight=w, spec=spec, C=8.0, meta={"task": "topic"}
    )

    # -- relevance ------------------------------------------------------------------------
    rel_spec = FeatureSpec(n_features=2**18, ngram_min=1, ngram_max=3, max_chars=600)
    ctx, feats = relevance_inputs(own_tr, schemes)
    ry = ["yes" if q["relevant"] else "no" for q in own_tr]
    rm = train(
        ctx,
        ry,
        classes=("no", "yes"),
        extra=feats,
        extra_names=RELEVANCE_FEATURES,
        spec=rel_spec,
        C=2.0,
    )
    ctx_h, feats_h = relevance_inputs(own_ho, schemes)
    ph = rm.predict_proba(ctx_h, feats_h)[:, 1]
    metrics["own_holdout_relevance_f1"] = round(
        float(f1_score([q["relevant"] for q in own_ho], ph >= 0.5)), 4
    )
    log(f"relevance holdout F1 {metrics['own_holdout_relevance_f1']}")
    ctx, feats = relevance_inputs(own, schemes)
    ry = ["yes" if q["relevant"] else "no" for q in own]
    counts["relevance"] = dict(Counter(ry))
    rel_model = train(
        ctx,
        ry,
        classes=("no", "yes"),
        extra=feats,
        extra_names=RELEVANCE_FEATURES,
        spec=rel_spec,
        C=2.0,
        meta={"task": "relevance"},
    )

    models: dict[str, TextModel] = {
        "relevance": rel_model,
        "negative": neg_model,
        "positive": pos_model,
        "topic": topic_model,
        "short": short_model,
    }
    sizes = {}
    for name, model in models.items():
        path = OUT / MODEL_FILES[name]
        model.save(path)
        sizes[path.name] = path.stat().st_size
        log(
            f"wrote {path.relative_to(ROOT)} ({path.stat().st_size / 1024:.0f} KiB, "
            f"{model.weights.nnz} weights)"
        )
    # Measuring only (no choice above depends on it): the figure the benchmark reports.
    shipped = Classifier(models)
    metrics["osm_eval_negative_proba_macro_f1"] = round(
        float(f1_score(osm_ey > 0, shipped.negative_proba(osm_ex) >= 0.5, average="macro")), 4
    )
    log(
        f"osm eval macro-F1 of Classifier.negative_proba: {metrics['osm_eval_negative_proba_macro_f1']}"
    )
    write_provenance(own, counts, metrics, sizes)
    log("done")


def _post(q: dict[str, Any]) -> Post:
    return Post(
        id=q["id"],
        text=q["text"],
        title=q["title"],
        source_type=q["source_type"],
        source_name=q["source_name"],
        author=q["author"],
    )


def write_provenance(
    own: list[dict[str, Any]],
    counts: dict[str, Any],
    metrics: dict[str, Any],
    sizes: dict[str, int],
) -> None:
    lines = [
        "# Provenance of the shipped labelling models",
        "",
        f"Built {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} by "
        "`scripts/build_models.py` (deterministic seed "
        f"{SEED}). Files are NumPy `.npz` (no pickle): float32 sparse weights over hashed "
        "character n-grams plus JSON metadata, loaded by `yuqing.text.models.TextModel.load` "
        "(`np.load(allow_pickle=False)`).",
        "",
        "## Data",
        "",
        f"- Project's own examples: {len(own)} posts expanded from "
        "`yuqing/text/training/templates.txt` (written by the project; fictional schools) — "
        "used for all four models.",
        "- `osm_weibo_school_incidents` **train split only** (11,045 rows; negative = labels "
        "1–3; weight 0.3) — negative model. Its eval split is only measured.",
        "- `chnsenticorp_htl_all` and `waimai_10k`: 3,000 rows each for the negative model "
        "(weight 0.5), up to 1,500 positive and 1,500 negative rows for the positive-vs-rest model (weight 0.5).",
        "- `clue_emotion2020_weibo`: 2,000 rows mapped to negative/not (surprise dropped, "
        "weight 0.5); up to 1,000 like/happiness rows as positive and 1,000 negative-emotion rows as not-positive.",
        "- `tnews_toutiao_titles`: 3,000 titles as not-positive for positive-vs-rest and as "
        "not-negative for the negative model (weight 0.3).",
        "- Short-text model `sentiment_short.npz`: NB-LR (naive-Bayes log-count ratios x "
        "logistic regression, C=0.3) over binary hashed char 1–4-grams, trained on the whole "
        "osm train split (11,045 rows, weight 1) plus the project's own posts (weight 2). "
        "Its blend with the school-post model (weights in its metadata, `blend` = school, "
        "short, bias in log-odds) was fitted on a held-out 20 % of osm **train** and the "
        "held-out templates, with models trained without those rows. Used by "
        "`Classifier.negative_proba` (Weibo-comment sentiment, the osm figure); the labels of "
        "school posts use the school-post model alone, because the blend lowered dev-school "
        "negative precision from 0.829 to 0.747 (measured once, not tuned further).",
        "- Sets tried for the short-text model and left out: clue_emotion2020_weibo and "
        "covid19_weibo_emotion (mixed in at weight 0.2–0.5, or as a stacked second model: "
        "no gain on the osm train hold-out; a model trained on them alone scores ≈0.52, like "
        "SnowNLP, because osm's 'weak negative' is about the events, not emotion words). "
        "rjieba word 1–2-grams added nothing over char 1–4-grams (±0.005) and cost ≈50 µs "
        "per 300-char post, so they are not used.",
        "- Never used for training or tuning: `/work/shared/eval/*` and the osm eval split "
        "(measured by `scripts/measure_labels.py`).",
        "",
        "Dev-school and osm numbers of the whole classifier: run "
        "`.venv/bin/python scripts/measure_labels.py`.",
        "",
        "## Rows per model",
        "",
    ]
    for k, v in counts.items():
        lines.append(f"- {k}: {v}")
    lines += ["", "## Metrics at build time", ""]
    for k, v in metrics.items():
        lines.append(f"- {k}: {v}")
    lines += [
        "",
        "(own_holdout_* hold out 25 whole templates; osm_train_holdout_* a 20 % slice of osm "
        "train; the shipped models are then retrained on all rows. osm_eval_* are measured "
        "on the osm eval split after all choices were made.)",
        "",
        "## Whole classifier, measured by scripts/measure_labels.py (2026-11-25)",
        "",
        "- dev-school: relevance F1 0.937; negative P 0.829 / R 0.907; topic macro-F1 0.830; "
        "alert (risk ≥ 2) P 0.817 / R 0.961 (models unchanged by the 16:00 UTC round; the "
        "alert figure moved from P 0.857 / R 0.941 with the counted-complaint rule of "
        "`classify.py`, chosen on the project's own examples: own alert recall 0.795 -> 0.909).",
        "- osm eval: `negative_proba` ≥ 0.5 macro-F1 0.803 (was 0.766 with the school-post "
        "model); SnowNLP ≈ 0.52; a plain char n-gram LR ≈ 0.80. Target 0.83 not reached: "
        "every linear bag-of-n-grams variant tried stayed at 0.79–0.81 on the osm train "
        "hold-out; so did (5-fold CV on osm train) TF-IDF char/word LR and SVM, rjieba word "
        "NB-LR, their averaged ensembles, a char-TF-IDF kNN blend, and fitting the blend on "
        "osm rows only with a macro-F1 bias shift (eval 0.799, not shipped).",
        "- Tried and not shipped: 49 more own templates (notices with warning words, calm "
        "harm reports, sarcasm): own-template CV neutral (neg R 0.924 -> 0.929), but dev-school "
        "negative recall fell to 0.864 and topic macro-F1 to 0.789.",
        "",
        "## Files",
        "",
    ]
    for k, v in sizes.items():
        lines.append(f"- {k}: {v / 1024:.0f} KiB")
    (OUT / "PROVENANCE.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
