"""Forbidden words, formulations, leaders' titles and typos: one automaton per config."""

from __future__ import annotations

import pytest

from yuqing.text.proofread import ProofreadConfig, WordRule, proofread
from yuqing.text.proofread.config import seeded


def found(text: str, config: ProofreadConfig | None = None) -> list[tuple[str, str, str]]:
    return [(f.kind, f.text, f.suggestion) for f in proofread(text, config=config)]


# -- forbidden ---------------------------------------------------------------------------


def test_it_blocks_seeded_advertising_and_tutoring_words() -> None:
    findings = proofread("暑期冲刺班火热招生，限时优惠！")
    assert [(f.kind, f.text, f.severity) for f in findings] == [
        ("forbidden", "冲刺班", "block"),
        ("forbidden", "限时优惠", "block"),
    ]
    assert findings[0].message  # the reason travels with the finding


def test_it_lets_a_notice_that_bans_paid_tutoring_name_it() -> None:
    text = "我校严禁在职教师有偿补课，欢迎家长举报有偿补课行为。"
    findings = proofread(text)
    assert [(f.text, f.severity) for f in findings] == [("有偿补课", "info"), ("有偿补课", "info")]
    assert [f.severity for f in proofread("本校老师开设有偿补课，欢迎报名")] == ["block"]


def test_it_uses_a_schools_own_forbidden_words_with_their_reason() -> None:
    config = ProofreadConfig.from_dict({"forbidden": {"某某教育": "合作已终止的培训机构"}})
    [finding] = proofread("感谢某某教育的支持", config=config)
    assert (finding.kind, finding.text, finding.message) == (
        "forbidden",
        "某某教育",
        "合作已终止的培训机构",
    )


def test_it_sees_through_separators_and_traditional_characters() -> None:
    text = "限*时*優惠"
    [finding] = proofread(text)
    assert finding.text == text  # the span covers what the author typed


def test_it_matches_latin_words_as_whole_words_only() -> None:
    config = ProofreadConfig(forbidden=(WordRule("vip", reason="商业用语", severity="block"),))
    assert [f.text for f in proofread("成为VIP会员", config=config)] == ["VIP"]
    assert proofread("vipers are snakes", config=config) == []


# -- formulations ------------------------------------------------------------------------


def test_it_corrects_an_outdated_body_name() -> None:
    assert found("根据国家教委有关文件") == [("formulation", "国家教委", "教育部")]


def test_it_does_not_flag_a_wrong_form_inside_the_correct_one() -> None:
    assert found("培养德智体美劳全面发展的社会主义建设者和接班人") == []
    assert found("培养德智体美全面发展的人才") == [
        ("formulation", "德智体美全面发展", "德智体美劳全面发展")
    ]


def test_it_flags_a_leader_named_with_the_wrong_title() -> None:
    config = ProofreadConfig.from_dict({"leaders": {"张伟": "校长", "李红": "党委副书记"}})
    text = "张伟副校长、李红书记出席了会议。"
    findings = proofread(text, config=config)
    assert [(f.kind, f.text, f.suggestion, f.severity) for f in findings] == [
        ("formulation.title", "副校长", "校长", "block"),
        ("formulation.title", "书记", "党委副书记", "block"),
    ]
    assert text[findings[0].start : findings[0].end] == "副校长"


def test_it_accepts_a_leaders_title_and_its_short_form() -> None:
    config = ProofreadConfig.from_dict(
        {"leaders": {"张伟": ["党委书记", "校长"], "李红": "副校长"}}
    )
    assert proofread("张伟书记、张伟校长、李红副校长、张伟同志出席。", config=config) == []


# -- typos -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "right"),
    [
        ("按装", "安装"),
        ("再接再励", "再接再厉"),
        ("一股作气", "一鼓作气"),
        ("迫不急待", "迫不及待"),
    ],
)
def test_it_flags_typos_from_the_confusion_list(wrong: str, right: str) -> None:
    text = f"同学们要{wrong}。"
    [finding] = proofread(text)
    assert (finding.kind, finding.text, finding.suggestion) == ("typo", wrong, right)
    assert (finding.start, finding.end) == (4, 4 + len(wrong))


def test_it_does_not_flag_an_allowed_phrase_containing_a_typo_pair() -> None:
    assert found("请按装修标准验收") == []


def test_it_only_notes_ji_shi_which_is_right_in_ji_you() -> None:
    [finding] = proofread("既使遇到困难也不放弃")
    assert finding.severity == "info"


def test_it_finds_nothing_in_correct_text() -> None:
    assert found("同学们再接再厉，一鼓作气，迫不及待地安装了新软件。") == []


# -- config ------------------------------------------------------------------------------


def test_it_builds_one_automaton_per_config_and_reuses_it() -> None:
    config = ProofreadConfig.from_dict({"forbidden": {"甲": "x"}})
    assert config.lexicon is config.lexicon
    assert ProofreadConfig.default() is ProofreadConfig.default()


def test_it_lets_a_school_override_a_seeded_entry() -> None:
    config = ProofreadConfig.from_dict(
        {"confusions": [{"word": "按装", "replacement": "安装", "severity": "block"}]}
    )
    assert [f.severity for f in proofread("按装", config=config)] == ["block"]
    assert len(config.confusions) == len(seeded("confusions"))


def test_it_can_run_without_the_seeded_lists() -> None:
    config = ProofreadConfig.from_dict({"use_defaults": False})
    assert proofread("冲刺班按装", config=config) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"forbiden": {}},
        {"forbidden": [{"word": ""}]},
        {"confusions": [{"word": "a", "severity": "fatal"}]},
        {"leaders": {"张伟": []}},
        {"check_links": "yes"},
        {"checks": ["spelling"]},
    ],
)
def test_it_rejects_a_bad_config_with_a_reason(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        ProofreadConfig.from_dict(bad)


def test_the_seed_files_are_well_formed() -> None:
    for name in ("forbidden", "formulations", "confusions"):
        rules = seeded(name)
        assert rules, name
        words = [r.word for r in rules]
        assert len(words) == len(set(words)), name
        if name != "forbidden":
            assert all(r.replacement and r.replacement != r.word for r in rules), name
