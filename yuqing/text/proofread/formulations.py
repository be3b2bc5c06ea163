"""Wrong or outdated official formulations, and leaders named with the wrong title.

The lexicon (``data/formulations.tsv``, editable per school) maps a wrong form to the right
one: outdated names of bodies (国家教委 → 教育部), wrong set phrases (九年制义务教育 → 九年义务
教育). A correct form that contains the wrong one guards it (``lexicon.py``).

Leaders: a school lists each leader's name with the title(s) they hold. The name followed by
a *different* title is a finding (张三副校长 when 张三 is 校长). A shortened form of the held
title is fine (书记 for 党委书记), unless the shortening drops a 副 (校长 for 副校长).
"""

from __future__ import annotations

import re
from functools import lru_cache

from .config import ProofreadConfig
from .lexicon import Scan
from .types import Finding

__all__ = ["check"]

# Titles a name is commonly followed by in school and government writing. Configured titles
# are added to these, so a school's own titles (教务处主任) are recognised too.
TITLES = [
    "党委书记",
    "党委副书记",
    "党总支书记",
    "党支部书记",
    "书记",
    "副书记",
    "校长",
    "副校长",
    "执行校长",
    "名誉校长",
    "园长",
    "副园长",
    "主任",
    "副主任",
    "处长",
    "副处长",
    "科长",
    "副科长",
    "局长",
    "副局长",
    "厅长",
    "副厅长",
    "部长",
    "副部长",
    "司长",
    "副司长",
    "院长",
    "副院长",
    "主席",
    "副主席",
    "省长",
    "副省长",
    "市长",
    "副市长",
    "区长",
    "副区长",
    "县长",
    "副县长",
    "镇长",
    "副镇长",
    "委员",
    "常委",
    "督学",
    "总督学",
    "调研员",
    "巡视员",
    "年级组长",
    "教研组长",
    "班主任",
    "工会主席",
]


def _allowed(found: str, held: tuple[str, ...]) -> bool:
    for title in held:
        if found == title:
            return True
        if title.endswith(found) and not title[: -len(found)].endswith("副"):
            return True
    return False


@lru_cache(maxsize=64)
def _title_pattern(extra: tuple[str, ...]) -> re.Pattern[str]:
    titles = sorted(set(TITLES) | set(extra), key=len, reverse=True)
    # Optional 同志 and spaces between name and title: 张三同志、张三 校长.
    return re.compile(r"[ \u3000]*(?:同志[ \u3000]*)?(" + "|".join(map(re.escape, titles)) + ")")


def check(text: str, config: ProofreadConfig, scan: Scan) -> list[Finding]:
    findings: list[Finding] = []
    for hit in scan.of("formulations"):
        rule = hit.rule
        findings.append(
            Finding(
                kind="formulation",
                severity=rule.severity,
                start=hit.start,
                end=hit.end,
                text=text[hit.start : hit.end],
                suggestion=rule.replacement,
                message=rule.reason or f"规范表述应为“{rule.replacement}”",
            )
        )
    leader_hits = scan.of("leader")
    if not leader_hits:
        return findings
    held_titles = tuple(t for titles in config.leaders.values() for t in titles)
    pattern = _title_pattern(held_titles)
    for hit in leader_hits:
        name = hit.rule.word
        held = config.leaders.get(name, ())
        match = pattern.match(text, hit.end)
        if match is None or _allowed(match.group(1), held):
            continue
        start, end = match.span(1)
        findings.append(
            Finding(
                kind="formulation.title",
                severity="block",
                start=start,
                end=end,
                text=text[start:end],
                suggestion=held[0],
                message=f"{name}的职务是“{'、'.join(held)}”，不是“{match.group(1)}”",
            )
        )
    return findings
