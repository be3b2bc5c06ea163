"""Golden labels on hand-written hard cases (a fictional school, 白鹭一中).

The posts are written for these tests; none comes from an evaluation set.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yuqing.text.classify import Classifier, SchemeWords, simple_match
from yuqing.text.models import adapt
from yuqing.text.types import TOPICS, Labels, Post

SCHEME = {
    "name": "白鹭一中",
    "subject_words": ["白鹭一中", "白鹭市第一中学", "白鹭市一中"],
    "region_words": ["白鹭", "白鹭市"],
    "event_words": [],
    "exclude_words": ["白鹭一中路", "白鹭一中站"],
}

FILLER = (
    "本周全市以多云天气为主，周末有小雨。市图书馆新馆正式开放，市民可免费借阅。"
    "地铁二号线东延段完成试运行，预计年底开通。今年前三季度全市工业增加值同比增长。"
    "老旧小区改造已完成十二个小区的外立面翻新，城东体育中心主体结构封顶。"
)


@pytest.fixture(scope="module")
def clf() -> Classifier:
    return Classifier.default()


def lab(
    clf: Classifier,
    text: str,
    title: str = "",
    source_type: str = "weibo",
    source_name: str = "微博",
    author: str = "网友",
) -> Labels:
    post = Post(
        id="x",
        text=text,
        title=title,
        source_type=source_type,
        source_name=source_name,
        author=author,
    )
    return clf.label(post, None, SCHEME)


def test_scheme_words_and_aliases() -> None:
    sw = SchemeWords.coerce(SCHEME)
    assert sw.subject_words[0] == "白鹭一中"
    assert "一中" in sw.aliases
    m = simple_match(sw, "", "白鹭一中路今天封路，白鹭一中门口也堵")
    subj = [h for h in m.words("subject")]
    assert len(subj) == 2 and m.matched  # one inside the street name, one real


def test_sarcasm_is_negative(clf: Classifier) -> None:
    r = lab(clf, "白鹭一中食堂真是“物美价廉”啊，十八块钱两根青菜一片肉，感谢学校帮孩子减肥🙂")
    assert r.relevant
    assert r.sentiment == "negative"
    assert r.risk >= 1
    assert any(x.label == "sarcasm" for x in r.reasons)


def test_negated_praise_is_negative(clf: Classifier) -> None:
    r = lab(clf, "白鹭一中食堂的菜一点都不好吃，价格也不便宜，真不知道承包商怎么选的")
    assert r.relevant and r.sentiment == "negative"
    assert r.topic == "food_lodging"


def test_negated_harm_is_not_high_risk(clf: Classifier) -> None:
    r = lab(
        clf,
        "白鹭一中今天消防演练，三千多名师生四分钟全部撤离到操场，没有人受伤。",
        source_type="wechat",
        source_name="微信公众号",
        author="白鹭教育发布",
    )
    assert r.relevant
    assert r.risk <= 1


def test_official_rumour_denial_is_neutral(clf: Classifier) -> None:
    r = lab(
        clf,
        "近日有网友称我校发生学生集体食物中毒。经核实，该信息不实，我校未发生食物中毒事件，"
        "仅有一名学生因感冒请假。请广大家长不信谣、不传谣。",
        title="关于网传白鹭一中学生食物中毒的情况说明",
        source_type="wechat",
        source_name="微信公众号",
        author="白鹭一中",
    )
    assert r.relevant
    assert r.sentiment == "neutral"
    assert r.risk <= 1
    assert any(x.label == "denial" for x in r.reasons)


def test_same_named_school_elsewhere_is_irrelevant(clf: Classifier) -> None:
    r = lab(
        clf,
        "青川一中今天通报，一名高二学生在宿舍坠楼身亡，警方已介入调查。",
        source_type="news",
        source_name="青川日报",
    )
    assert not r.relevant and r.risk == 0
    r2 = lab(clf, "白鹭一小今天开学，一年级的小朋友哭成一片，校门口全是家长😂")
    assert not r2.relevant and r2.risk == 0


def test_street_and_stop_are_irrelevant(clf: Classifier) -> None:
    r = lab(
        clf,
        "白鹭一中路又开挖了，说是改管道，晚上路灯也不亮，骑车太危险了",
        source_type="forum",
        source_name="白鹭论坛",
    )
    assert not r.relevant and r.risk == 0
    r2 = lab(clf, "【公交改线】自下周一起，8路公交车不再停靠白鹭一中站，请乘客到下一站换乘。")
    assert not r2.relevant


def test_passing_mention_is_irrelevant(clf: Classifier) -> None:
    r = lab(
        clf,
        "云栖府，城市核心，毗邻白鹭一中，步行三分钟直达滨湖公园，精装交付，火热认筹中！",
        title="【云栖府】毗邻名校，繁华与静谧之间",
        source_type="wechat",
        source_name="微信公众号",
        author="云栖府置业",
    )
    assert not r.relevant and r.risk == 0


def test_long_article_with_one_mention_deep_inside(clf: Classifier) -> None:
    text = (
        FILLER * 3
        + "另据了解，白鹭一中一名高一学生上学途中被货车撞成重伤，目前仍在医院抢救。"
        + FILLER
    )
    r = lab(clf, text, title="白鹭本周要闻", source_type="news", source_name="白鹭日报")
    assert r.relevant
    assert r.sentiment == "negative"
    assert r.risk >= 3
    offs = [x for x in r.reasons if x.label == "risk" and x.start is not None]
    assert offs and all(text[x.start : x.end] == x.term for x in offs)


def test_death_story_is_at_least_orange(clf: Classifier) -> None:
    r = lab(
        clf,
        "今天下午，白鹭市第一中学一名高二学生在宿舍楼坠楼身亡，警方已介入调查，学校尚未回应。",
        title="白鹭一中一学生坠楼身亡",
        source_type="news",
        source_name="白鹭晚报",
    )
    assert r.relevant and r.sentiment == "negative"
    assert r.risk >= 3
    assert r.topic in ("emergency", "special_care")


def test_injury_in_a_forum_is_at_least_orange(clf: Classifier) -> None:
    r = lab(
        clf,
        "我家孩子在白鹭一中被同宿舍几个人长期欺负，前天被打到骨折住院，班主任只说让他们握手言和。",
        source_type="forum",
        source_name="白鹭论坛",
    )
    assert r.relevant and r.sentiment == "negative" and r.risk >= 3


def test_praise_is_positive_and_no_risk(clf: Classifier) -> None:
    r = lab(clf, "白鹭一中合唱团拿了全省一等奖！在现场听哭了，孩子们太棒了👏")
    assert r.relevant and r.sentiment == "positive" and r.risk == 0
    assert r.topic == "campus_news"


def test_fee_complaint_is_yellow(clf: Classifier) -> None:
    r = lab(
        clf,
        "白鹭一中本学期每人收了三百元资料费，没有收据也没有明细，好几个家长都在群里问钱去哪了。",
    )
    assert r.relevant and r.sentiment == "negative" and r.topic == "fees"
    assert r.risk >= 2


def test_neutral_notice(clf: Classifier) -> None:
    r = lab(
        clf,
        "白鹭一中自下周一起调整冬季作息时间，早读七点二十开始，晚自习九点半结束。",
        source_type="wechat",
        source_name="微信公众号",
        author="白鹭教育发布",
    )
    assert r.relevant and r.sentiment == "neutral" and r.risk == 0


def test_scores_are_distributions(clf: Classifier) -> None:
    r = lab(clf, "白鹭一中宿舍停水三天了，洗澡要去教学楼接水")
    assert set(r.topic_scores) == set(TOPICS)
    assert abs(sum(r.topic_scores.values()) - 1) < 1e-3
    assert abs(sum(r.sentiment_scores.values()) - 1) < 1e-3
    assert 0 <= r.relevance <= 1 and 0 <= r.risk_score <= 4


def test_label_many_matches_label(clf: Classifier) -> None:
    posts = [
        Post(id=str(i), text=t)
        for i, t in enumerate(["白鹭一中食堂米饭夹生", "白鹭一中路堵车", "白鹭一中喜获金牌"])
    ]
    many = clf.label_many(posts, None, SCHEME)
    one = [clf.label(p, None, SCHEME) for p in posts]
    assert [(a.relevant, a.sentiment, a.topic, a.risk) for a in many] == [
        (b.relevant, b.sentiment, b.topic, b.risk) for b in one
    ]
    assert clf.label_many([], None, SCHEME) == []


def test_without_scheme_relevance_comes_from_the_match(clf: Classifier) -> None:
    sw = SchemeWords.coerce(SCHEME)
    post = Post(id="1", text="白鹭一中食堂吃出虫子")
    m = simple_match(sw, post.title, post.text)
    assert clf.label(post, m).relevant
    assert not clf.label(post, None).relevant


def test_default_is_shared() -> None:
    assert Classifier.default() is Classifier.default()


def test_school_correction_changes_the_label(clf: Classifier) -> None:
    text = "白鹭一中下周起实行分层走班教学"
    before = lab(clf, text)
    target = "negative" if before.sentiment != "negative" else "neutral"
    neg = clf.model("negative")
    corrected = adapt(
        neg,
        [text, "白鹭一中实行分层走班教学", "分层走班教学又来了"],
        ["neg" if target == "negative" else "not"] * 3,
        prior=0.05,
    )
    school = clf.with_models(negative=corrected)
    assert lab(school, text).sentiment == target


def test_big_batch_matches_single_labels(clf: Classifier) -> None:
    # Speed lives in scripts/bench_labels.py; here only that batching changes nothing.
    texts = [
        "白鹭一中食堂的饭菜又贵又难吃，米饭夹生，孩子吃不饱",
        "白鹭一中合唱团获得全省一等奖，孩子们太棒了👏",
        "白鹭一中路今天封路施工",
        "网传白鹭一中出现传染病，经核实该信息不实",
        FILLER * 3 + "另据了解，白鹭一中一名学生在体育课上摔成骨折。" + FILLER,
    ]
    posts = [
        Post(id=str(i), text=t, title="白鹭一中" if i % 5 == 1 else "")
        for i, t in enumerate(texts * 40)
    ]
    many = clf.label_many(posts, None, SCHEME)
    for p, got in zip(posts[:5], many[:5], strict=True):
        want = clf.label(p, None, SCHEME)
        assert got == want
    assert many[5:10] == many[:5]


def test_negative_proba(clf: Classifier) -> None:
    p = clf.negative_proba(["太恶心了，这种学校必须严查！", "祝贺孩子们，太棒了", ""])
    assert p.shape == (3,)
    assert ((p >= 0) & (p <= 1)).all()
    assert p[0] > 0.5 > p[1]
    assert clf.negative_proba([]).shape == (0,)


# -- hard cases added with the second round of the project's own examples (text3) ---------


def test_safety_education_notice_is_not_a_complaint(clf: Classifier) -> None:
    # Harsh words (欺凌, 溺水) in a calm notice of the school's own education work.
    r = lab(
        clf,
        "本周白鹭一中开展防溺水和防校园欺凌专题教育，各班观看警示片，学校还给每位家长发了"
        "一封安全告知书，提醒假期不要让孩子私自到河边玩水。",
        source_type="wechat",
        source_name="微信公众号",
        author="白鹭教育发布",
    )
    assert r.relevant
    assert r.sentiment != "negative"
    assert r.risk <= 1


def test_scam_warning_from_the_school_is_neutral(clf: Classifier) -> None:
    r = lab(
        clf,
        "有人冒充白鹭一中班主任在家长群里发收款码收“教辅费”，学校提醒：我校不会通过微信群"
        "收取任何费用，请家长不要转账，发现可疑信息请报警。",
        title="白鹭一中：警惕冒充教师收费",
        source_type="wechat",
        source_name="微信公众号",
        author="白鹭一中",
    )
    assert r.relevant
    assert r.sentiment != "negative"


def test_complaint_that_quotes_the_schools_reminder_stays_negative(clf: Classifier) -> None:
    # The reminder is quoted in scorn ("还好意思发什么“温馨提示”"): still a complaint.
    r = lab(
        clf,
        "白鹭一中食堂又吃出头发和虫子，学校还好意思发什么“食品安全温馨提示”，提醒家长别买"
        "校门口零食，先把自己食堂管好吧",
    )
    assert r.sentiment == "negative"
    assert not any(x.term == "advisory" for x in r.reasons)


def test_reminder_is_a_reason_of_the_sentiment(clf: Classifier) -> None:
    r = lab(
        clf,
        "寒假将至，白鹭一中提醒各位家长：注意防火、防电、防煤气中毒，燃放烟花爆竹要有大人陪同，"
        "谨防网络诈骗。",
        source_type="wechat",
        author="白鹭一中",
    )
    assert r.sentiment != "negative"
    assert any(x.label == "sentiment" and x.term == "advisory" and x.weight < 0 for x in r.reasons)


def test_calm_official_notice_of_a_stomach_outbreak_is_alert_worthy(clf: Classifier) -> None:
    # No angry words at all, but several students taken ill: the office must act.
    r = lab(
        clf,
        "昨晚晚餐后，白鹭一中有九名住校生先后出现腹痛、腹泻，已送医院诊治，目前情况稳定。"
        "疾控部门已对食堂留样采样检测，学校暂停食堂供餐，改由配餐公司送餐。",
        title="关于部分学生身体不适的情况通报",
        source_type="wechat",
        source_name="微信公众号",
        author="白鹭一中",
    )
    assert r.relevant
    assert r.risk >= 2


def test_sarcastic_thumbs_up_over_a_fee_is_negative(clf: Classifier) -> None:
    r = lab(clf, "白鹭一中这学期又收了一次“自愿”的班级建设费，不交的被班主任点名，真是好学校👍")
    assert r.relevant
    assert r.sentiment == "negative"
    assert r.risk >= 1


def test_denying_the_denial_is_negative(clf: Classifier) -> None:
    # "Never" quoted back at the school with a counter-example: a complaint, not a denial.
    r = lab(
        clf,
        "学校说白鹭一中老师从来没有有偿补课？我家孩子的英语老师昨天还在群里发暑期补习班报名表，"
        "一期两千六，这也叫没有？",
    )
    assert r.relevant
    assert r.sentiment == "negative"


def test_same_named_school_elsewhere_with_harm_words_stays_quiet(clf: Classifier) -> None:
    r = lab(
        clf,
        "柳川一中一名老师在课堂上扇了学生耳光，视频传开后柳川市教育局已责令停职调查。",
        source_type="news",
        source_name="柳川晚报",
    )
    assert not r.relevant
    assert r.risk == 0


@given(
    st.text(alphabet="白鹭一中路站市第学校门口aA ，", max_size=40),
)
def test_word_finder_finds_what_substring_search_finds(body: str) -> None:
    # The scheme's one-automaton word finder must report every occurrence str.find reports
    # (overlapping ones included), for every kind of scheme word.
    sw = SchemeWords.coerce(SCHEME)
    m = simple_match(sw, "", body)
    got = sorted((h.kind, h.word, h.start, h.end) for h in m.hits)
    want = []
    for kind, words in (
        ("subject", sw.subject_words),
        ("region", sw.region_words),
        ("exclude", sw.exclude_words),
    ):
        for w in words:
            i = body.find(w)
            while i >= 0:
                want.append((kind, w, i, i + len(w)))
                i = body.find(w, i + 1)
    assert got == sorted(want)


def test_a_complaint_with_a_sum_or_a_head_count_is_yellow(clf: Classifier) -> None:
    r = lab(
        clf, "白鹭一中的英语老师周末在家开补习班，一节课三百，不去的学生上课就被晾在一边，谁来管管"
    )
    assert r.relevant and r.sentiment == "negative"
    assert r.risk >= 2
    assert any(x.term == "counted:money_or_people" for x in r.reasons)
    r2 = lab(clf, "白鹭一中班上已经有6个同学咳嗽发烧回家了，学校到现在也没在群里说一声，好担心")
    assert r2.risk >= 2
    # The price of a meal is a mild complaint, not a charge: no count, no money in hundreds.
    r3 = lab(clf, "白鹭一中食堂的盖饭又涨了两块，分量还少了，真吃不起了")
    assert r3.sentiment == "negative"
    assert r3.risk <= 1


@pytest.mark.parametrize(
    ("text", "counted"),
    [
        ("交的一千二到现在没退", True),
        ("每人收了350元", True),
        ("已经有8个同学请假", True),
        ("十多个家长都在等", True),
        ("一个同学说的", False),
        ("一份饭十二块", False),
        ("2026年的事", False),
    ],
)
def test_counted_pattern(text: str, counted: bool) -> None:
    from yuqing.text.classify import _COUNTED_RE

    assert (_COUNTED_RE.search(text) is not None) is counted
