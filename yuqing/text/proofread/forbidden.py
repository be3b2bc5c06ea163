"""Forbidden content: words a school does not publish (advertising, paid tutoring, …).

The seeded list (``data/forbidden.tsv``) covers commercial advertising and paid-tutoring
promotion; each school adds its own words with a reason, which becomes the finding's message.

A school also publishes notices that *forbid* these things (严禁在职教师有偿补课). A word
preceded in the same clause by a prohibition (严禁, 不得, 举报, …) is reported as ``info``
only: the reviewer sees it, but it does not block.
"""

from __future__ import annotations

import re

from .config import ProofreadConfig
from .lexicon import Scan
from .types import Finding

__all__ = ["check"]

_PROHIBITION = re.compile(
    r"(?:严禁|禁止|不得|不准|不许|杜绝|治理|整治|查处|举报|拒绝|抵制|反对|防止|违规|不参加|不组织|"
    r"不参与|不从事|坚决制止)[^，,。；;！!？?\n]{0,12}$"
)


def check(text: str, config: ProofreadConfig, scan: Scan) -> list[Finding]:
    findings = []
    for hit in scan.of("forbidden"):
        rule = hit.rule
        reason = rule.reason or "本校禁止发布的内容"
        prohibited = _PROHIBITION.search(text, max(0, hit.start - 20), hit.start)
        findings.append(
            Finding(
                kind="forbidden",
                severity="info" if prohibited else rule.severity,
                start=hit.start,
                end=hit.end,
                text=text[hit.start : hit.end],
                suggestion=rule.replacement or "删除或改写",
                message=(
                    f"出现在禁止性表述中，请确认不是宣传（{reason}）" if prohibited else reason
                ),
            )
        )
    return findings
