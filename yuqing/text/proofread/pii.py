"""Personal information that must not be published.

- PRC resident ID numbers (GB 11643-1999): region, a real birth date, sequence and the ISO 7064
  MOD 11-2 check character. A number whose check character is wrong is not an ID number (it
  is an order or serial number) and is not flagged.
- Mobile numbers: 1[3-9] and nine digits, optionally +86 and grouped 3-4-4, never inside a
  longer run of digits.
- Bank card numbers: 16-19 digits (optionally in groups of four), a card-network first digit
  and a valid Luhn check digit, never inside a longer run of digits, never an ID number.
- Students' names next to scores or rankings (a ranking table row "张三 第1名 98分", or
  "李明同学以 98 分…"): publishing exam scores and rankings of pupils is forbidden.
- Home addresses: a street address with building / unit / room (3栋2单元501室), or any street
  address right after 家住 / 住址 / 家庭地址.

Patterns run on a copy of the text with full-width digits and letters folded one for one, so
offsets stay those of the original.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from datetime import date

from .config import ProofreadConfig
from .types import Finding, Severity

__all__ = ["check", "is_bank_card", "is_resident_id"]

# Full-width ０-９ Ａ-Ｚ ａ-ｚ and the ideographic space fold to ASCII, one character each.
_FOLD = {cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF5B)} | {0x3000: 0x20}
_WIDE = re.compile("[\uff10-\uff5a\u3000]")

# -- resident ID --------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID = re.compile(r"(?<![0-9A-Za-z])([1-9]\d{5})(\d{4})(\d{2})(\d{2})\d{3}[\dXx](?![0-9A-Za-z])")


def is_resident_id(value: str) -> bool:
    """Whether ``value`` is an 18-character ID number with a real birth date and check."""
    value = value.upper()
    if len(value) != 18 or not value[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != value[17]:
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return date(1900, 1, 1) <= born <= date.today()


def _mask_id(value: str) -> str:
    return value[:3] + "*" * 11 + value[-4:]


# -- mobile numbers -----------------------------------------------------------------------

_MOBILE = re.compile(
    r"(?<![0-9A-Za-z+])(?:(?:\+|00)?86[ -]?)?(1[3-9]\d)([ -]?)(\d{4})\2(\d{4})(?![0-9])"
)

# -- bank cards ---------------------------------------------------------------------------

_CARD = re.compile(r"(?<![0-9])(?:\d{4}[ -]){3,4}\d{1,4}(?![0-9])|(?<![0-9])\d{16,19}(?![0-9])")
_CARD_FIRST = frozenset("345689")  # Amex/JCB, Visa, Mastercard, UnionPay 62/60, old 9xxx
# An order or waybill number that happens to pass Luhn (one in ten does) is no card.
_NOT_CARD_CONTEXT = re.compile(
    r"(订单|单号|编号|流水号|运单|快递|学号|准考证|证书)[号码]?\s*[:：]?\s*$"
)


def is_bank_card(digits: str) -> bool:
    if not 16 <= len(digits) <= 19 or not digits.isdigit() or digits[0] not in _CARD_FIRST:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# -- names next to scores or rankings -----------------------------------------------------

_SURNAMES_1 = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛"
    "郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰"
    "焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁"
    "蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂"
    "全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)
_SURNAMES_2 = {"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙"}
_SURNAMES_2 |= {"令狐", "夏侯", "宇文", "澹台", "端木", "西门", "南宫", "轩辕", "呼延"}
# Characters that almost never occur in a given name but often start table headers and
# subject words that begin with a surname character (高一, 王牌, 周考, 平均分…).
_NOT_NAME_CHARS = set("级班科目数次第总均考试绩校师长任记届期周月日年分名排序号组部室处")
_NUMERALS = set("一二三四五六七八九十日天")
_TITLE_SUFFIXES = ("老师", "校长", "主任", "书记", "同学", "教师", "局长", "家长")
_NAME_STOPWORDS = {"高中", "高考", "高分", "全体", "全部", "全校", "于是", "方面", "方法"}
# A CJK run delimited by table-ish separators (cells, list items, "姓名：…").
_CELL = re.compile(r"(?<![\u4e00-\u9fff0-9A-Za-z])([\u4e00-\u9fff·]{2,5})(?![\u4e00-\u9fff])")
_SCORE = re.compile(
    r"第\s*[0-9一二三四五六七八九十百]+\s*名|(?<![0-9.])\d{1,3}(?:\.\d+)?\s*分(?!钟|之|析|别|享|工|配|数线|班|校)"
    r"|(?:排名|名次|位次|总分|成绩)\s*[:：]?\s*\d+|年级第\s*\d+|班级第\s*\d+"
)
_RANKING_CONTEXT = re.compile(r"排名|名次|位次|成绩单|成绩表|光荣榜|红榜|分数|总分|考试成绩")
# Exam scores and rankings must not be published at all; a sports result or a competition
# score next to a name is often fine, so without exam words it is only a warning.
_EXAM_CONTEXT = re.compile(r"考试|测试|测验|期中|期末|月考|统考|联考|模考|中考|高考|学业水平|成绩")
_NAME_WINDOW = 16  # a name this close to a score or rank on the same line belongs to it


def _name_at(candidate: str) -> str | None:
    """The person's name in ``candidate`` (a delimited CJK run), or None."""
    for suffix in _TITLE_SUFFIXES:
        if candidate.endswith(suffix):
            if suffix != "同学":
                return None
            candidate = candidate[: -len(suffix)]
    if candidate in _NAME_STOPWORDS:
        return None
    compound = candidate[:2] in _SURNAMES_2
    if not (compound or candidate[0] in _SURNAMES_1):
        return None
    given = candidate[2:] if compound else candidate[1:]
    if not 1 <= len(given.replace("·", "")) <= 2:
        return None
    if any(ch in _NOT_NAME_CHARS for ch in given) or candidate[0] in _NOT_NAME_CHARS:
        return None
    if candidate[0] in "高初周" and all(ch in _NUMERALS for ch in given):
        return None  # 高一, 初三, 周五: a grade or a weekday, not a person (张三 is one)
    return candidate


# Surname characters that are also common words: never taken as the start of a longer name
# ("张三和王明同学" is 王明, not 和王明).
_WEAK_SURNAMES = set("和于向时成明全应党师商查解单车路文安方常司")


def _classmates(line: str) -> list[tuple[int, str]]:
    """(start, name + 同学) for the name before each 同学: 李明同学, 张小明同学, 欧阳娜娜同学."""
    found = []
    for m in re.finditer("同学", line):
        end = m.start()
        runs = {size: line[end - size : end] for size in (2, 3, 4) if end >= size}
        choice = None
        if 4 in runs and runs[4][:2] in _SURNAMES_2 and _name_at(runs[4]):
            choice = 4
        elif 3 in runs and runs[3][0] not in _WEAK_SURNAMES and _name_at(runs[3]):
            choice = 3
        elif 2 in runs and _name_at(runs[2]):
            choice = 2
        if choice is not None:
            found.append((end - choice, runs[choice] + "同学"))
    return found


def _names_with_scores(text: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of every student name next to a score or rank on its line."""
    found: dict[int, tuple[int, int, str]] = {}
    ranking_doc = _RANKING_CONTEXT.search(text) is not None
    pos = 0
    for line in text.split("\n"):
        scores = [m.span() for m in _SCORE.finditer(line)]
        score_starts = [s for s, _ in scores]
        if scores:
            candidates = [(m.start(1), m.group(1)) for m in _CELL.finditer(line)]
            candidates += _classmates(line)
            for start, run in candidates:
                name = _name_at(run)
                if name is None:
                    continue
                end = start + len(name)
                # Scores are sorted and disjoint: the last one starting before the window's
                # end is the only one that can reach back into it.
                i = bisect_right(score_starts, end + _NAME_WINDOW) - 1
                near = i >= 0 and scores[i][1] + _NAME_WINDOW >= start
                # In a ranking table the whole row belongs together, however wide.
                if near or (ranking_doc and "\t" in line):
                    found.setdefault(pos + start, (pos + start, pos + end, name))
        pos += len(line) + 1
    return sorted(found.values())


# -- home addresses -----------------------------------------------------------------------

_NUM = "(?:[0-9]+|[一二三四五六七八九十百]+)"
_UNIT_PART = (
    rf"[0-9A-Za-z一二三四五六七八九十]+(?:号楼|栋|幢|座)(?:{_NUM}单元)?(?:[0-9]+(?:室|号|房)?)?"
    r"|[0-9]+(?:室|房)"
)
# The core of an address: a street number, or a residential compound, then building, unit
# and room. The place names before it are added by walking back (see _address_start):
# a leading lazy CJK prefix in the regex would start the match at the sentence start.
_ADDRESS = re.compile(
    rf"(?:路|街|大道|巷|弄|胡同|村){_NUM}号(?:院|小区|公寓|花园|苑)?(?P<unit>{_UNIT_PART})?"
    rf"|(?:小区|花园|公寓|家园|新村|苑|府)(?P<unit2>{_UNIT_PART})"
)
_ADDRESS_LEAD = re.compile(r"[\u4e00-\u9fff0-9]{1,16}$")
_ADDRESS_CUT = re.compile(r".*(?:家住|住址|地址|住在|现住|位于|住|在|于|是|为|到)")
_HOME_CONTEXT = re.compile(r"(?:家住|住址|家庭地址|家庭住址|居住地|住在|现住)\s*[:：]?\s*$")


def _address_start(text: str, core: int) -> int:
    lead = _ADDRESS_LEAD.search(text, max(0, core - 16), core)
    if lead is None:
        return core
    cut = _ADDRESS_CUT.match(text, lead.start(), core)
    return cut.end() if cut else lead.start()


def _addresses(text: str) -> list[tuple[int, int, Severity]]:
    spans: list[tuple[int, int, Severity]] = []
    for m in _ADDRESS.finditer(text):
        start = _address_start(text, m.start())
        home = _HOME_CONTEXT.search(text, max(0, start - 8), start) is not None
        if not (home or m.group("unit") or m.group("unit2")):
            continue  # a street address alone is usually the school's or an office's
        spans.append((start, m.end(), "block" if home else "warn"))
    return spans


# -- the check ----------------------------------------------------------------------------


def check(text: str, config: ProofreadConfig) -> list[Finding]:
    folded = text.translate(_FOLD) if _WIDE.search(text) else text
    findings: list[Finding] = []
    id_spans: list[tuple[int, int]] = []

    def add(kind: str, severity: Severity, start: int, end: int, fix: str, why: str) -> None:
        findings.append(Finding(kind, severity, start, end, text[start:end], fix, why))

    for m in _ID.finditer(folded):
        if is_resident_id(m.group(0)):
            id_spans.append(m.span())
            add(
                "pii.id_number",
                "block",
                *m.span(),
                _mask_id(m.group(0).upper()),
                "公民身份号码属于个人信息，不得公开发布；如确需公示请隐去中间位",
            )
    for m in _MOBILE.finditer(folded):
        if any(s <= m.start() < e for s, e in id_spans):
            continue
        head = m.group(1)
        add(
            "pii.mobile",
            "warn",
            *m.span(),
            f"{head}****{m.group(4)}",
            "手机号码：个人号码不得公开，请删除或隐去中间四位（学校公开的联系电话可保留）",
        )
    for m in _CARD.finditer(folded):
        digits = re.sub(r"[ -]", "", m.group(0))
        if not is_bank_card(digits) or is_resident_id(digits):
            continue
        if any(s < m.end() and m.start() < e for s, e in id_spans):
            continue
        if _NOT_CARD_CONTEXT.search(folded, max(0, m.start() - 8), m.start()):
            continue
        add(
            "pii.bank_card",
            "block",
            *m.span(),
            "**** **** **** " + digits[-4:],
            "银行卡号属于个人金融信息，不得公开发布",
        )
    named = _names_with_scores(folded)
    exam: Severity = "block" if named and _EXAM_CONTEXT.search(folded) else "warn"
    for start, end, name in named:
        masked = name[0] + "*" * (len(name) - 1)
        add(
            "pii.student_score",
            exam,
            start,
            end,
            f"删除姓名或成绩排名（如“{masked}”）",
            "不得公布学生个人考试成绩和排名"
            if exam == "block"
            else "学生姓名与分数或名次同时出现，请确认可以公开",
        )
    for start, end, severity in _addresses(folded):
        add(
            "pii.address",
            severity,
            start,
            end,
            "删除详细住址（保留到区县或街道）",
            "详细家庭住址属于个人信息，不得公开发布",
        )
    return findings
