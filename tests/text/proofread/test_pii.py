"""Personal information: each pattern against positive and negative examples."""

from __future__ import annotations

from yuqing.text.proofread import Finding, ProofreadConfig, proofread
from yuqing.text.proofread.pii import is_bank_card, is_resident_id

from .helpers import luhn, resident_id, wrong_check

PII_ONLY = ProofreadConfig.default().replace(checks=frozenset({"pii"}))
ID = resident_id("11010519900307123")
CARD = luhn("622202123456789012")  # 19 digits, UnionPay


def kinds(text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in proofread(text, config=PII_ONLY)]


def only(text: str, kind: str) -> list[Finding]:
    return [f for f in proofread(text, config=PII_ONLY) if f.kind == kind]


# -- resident ID numbers ----------------------------------------------------------------


def test_it_flags_a_valid_id_number_with_its_exact_position() -> None:
    text = f"学生王某，身份证号：{ID}，已核实。"
    [finding] = only(text, "pii.id_number")
    assert finding.severity == "block"
    assert text[finding.start : finding.end] == ID == finding.text
    assert finding.suggestion == ID[:3] + "*" * 11 + ID[-4:]


def test_it_does_not_flag_the_same_id_with_a_bad_check_digit() -> None:
    assert is_resident_id(ID)
    assert not is_resident_id(wrong_check(ID))
    assert kinds(f"身份证号：{wrong_check(ID)}") == []


def test_it_does_not_flag_an_18_digit_order_number() -> None:
    # 18 digits whose "birth date" is impossible: an order number, not an ID.
    assert kinds("订单号 202406151234567890 已发货") == []


def test_it_accepts_a_lower_case_x_check_character() -> None:
    with_x = resident_id("11010519491231002")
    assert with_x.endswith("X")
    assert kinds(f"证件号 {with_x.lower()}") == [("pii.id_number", with_x.lower())]


def test_it_does_not_flag_an_id_inside_a_longer_run_of_digits() -> None:
    assert only(f"流水 9{ID}7", "pii.id_number") == []


def test_it_flags_full_width_digits_at_the_original_offsets() -> None:
    wide = ID.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"})
    text = f"号码{wide}。"
    [finding] = only(text, "pii.id_number")
    assert (finding.start, finding.end, finding.text) == (2, 20, wide)


# -- mobile numbers ----------------------------------------------------------------------


def test_it_flags_mobile_numbers_plain_grouped_and_with_country_code() -> None:
    for number in ("13812345678", "138-1234-5678", "138 1234 5678", "+86 13812345678"):
        [finding] = only(f"联系电话：{number}。", "pii.mobile")
        assert finding.text == number
        assert finding.suggestion == "138****5678"


def test_it_does_not_flag_a_phone_inside_a_longer_number() -> None:
    assert only("编号 2013812345678901", "pii.mobile") == []
    assert only("编号 A13812345678", "pii.mobile") == []
    assert only("座机 0571-88812345", "pii.mobile") == []


def test_it_does_not_flag_eleven_digits_with_a_wrong_prefix() -> None:
    assert only("编号 12812345678", "pii.mobile") == []


# -- bank cards --------------------------------------------------------------------------


def test_it_flags_a_luhn_valid_card_number() -> None:
    assert is_bank_card(CARD)
    [finding] = only(f"请汇款至 {CARD} 账户", "pii.bank_card")
    assert finding.text == CARD and finding.severity == "block"
    assert finding.suggestion.endswith(CARD[-4:])


def test_it_flags_a_card_written_in_groups_of_four() -> None:
    card = luhn("622848001234567")  # 16 digits
    grouped = " ".join(card[i : i + 4] for i in range(0, 16, 4))
    assert [f.text for f in only(f"卡号：{grouped}", "pii.bank_card")] == [grouped]


def test_it_does_not_flag_a_card_number_failing_luhn() -> None:
    bad = CARD[:-1] + str((int(CARD[-1]) + 1) % 10)
    assert not is_bank_card(bad)
    assert only(f"卡号 {bad}", "pii.bank_card") == []


def test_it_does_not_flag_a_card_inside_a_longer_digit_run() -> None:
    assert only(f"流水 12{CARD}", "pii.bank_card") == []


def test_it_does_not_report_a_valid_id_as_a_card() -> None:
    assert [f.kind for f in proofread(ID, config=PII_ONLY)] == ["pii.id_number"]


def test_it_does_not_flag_an_order_number_that_happens_to_pass_luhn() -> None:
    assert only(f"订单号：{CARD}", "pii.bank_card") == []


# -- students' names next to scores or rankings --------------------------------------------


def test_it_flags_every_name_in_a_ranking_table() -> None:
    text = "期中考试成绩排名\n姓名\t名次\t总分\n张三\t第1名\t698分\n欧阳娜娜\t第2名\t690分\n"
    found = only(text, "pii.student_score")
    assert [f.text for f in found] == ["张三", "欧阳娜娜"]
    assert all(f.severity == "block" for f in found)


def test_it_flags_a_ranking_row_written_as_a_line() -> None:
    assert [f.text for f in only("张三 第1名 / 98分", "pii.student_score")] == ["张三"]


def test_it_flags_a_classmate_with_a_score_in_prose() -> None:
    text = "本次竞赛中李明同学以98分的成绩获得年级第一。"
    [finding] = only(text, "pii.student_score")
    assert finding.text == "李明"
    assert text[finding.start : finding.end] == "李明"


def test_it_only_warns_about_a_name_with_a_rank_outside_exams() -> None:
    [finding] = only("校运动会男子100米决赛：张三 第1名", "pii.student_score")
    assert finding.severity == "warn"
    [finding] = only("期末考试：张三 第1名", "pii.student_score")
    assert finding.severity == "block"


def test_it_flags_a_ranking_in_a_table_row_wider_than_the_window() -> None:
    text = "排名公示\n王小明\t初二（3）班\t数学\t语文\t英语\t物理\t总分 601"
    assert [f.text for f in only(text, "pii.student_score")] == ["王小明"]


def test_it_does_not_flag_a_score_without_a_name() -> None:
    assert only("本次考试全年级平均分为85.5分，及格率96%。", "pii.student_score") == []
    assert only("考试时间90分钟，满分100分。", "pii.student_score") == []


def test_it_does_not_flag_a_name_without_a_score() -> None:
    assert only("张三同学在市作文比赛中获得一等奖。", "pii.student_score") == []


def test_it_does_not_take_titles_or_class_names_for_students() -> None:
    assert only("王老师\t98分\n高一\t第1名", "pii.student_score") == []


# -- home addresses ----------------------------------------------------------------------


def test_it_blocks_a_home_address_after_jia_zhu() -> None:
    text = "该生家住滨江区文化路12号3栋2单元501室，"
    [finding] = only(text, "pii.address")
    assert finding.text == "滨江区文化路12号3栋2单元501室"
    assert finding.severity == "block"


def test_it_warns_about_a_compound_address_with_building_and_room() -> None:
    text = "活动地点：阳光花园5栋1单元302"
    [finding] = only(text, "pii.address")
    assert finding.severity == "warn"
    assert finding.text.endswith("5栋1单元302")


def test_it_does_not_flag_the_schools_own_street_address() -> None:
    assert only("学校地址：滨江区文化路1号。", "pii.address") == []


def test_it_finds_nothing_in_an_ordinary_notice() -> None:
    text = "各位家长：本周五下午三点在学校礼堂召开家长会，请准时参加。咨询电话0571-88812345。"
    assert kinds(text) == []
