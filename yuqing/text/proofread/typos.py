"""Typos from a confusion list: high-precision pairs only (按装 → 安装, 再接再励 → 再接再厉).

的/地/得 and similar context-dependent confusions are deliberately absent: they would flag
correct text often enough that editors learn to ignore the check.
"""

from __future__ import annotations

from .config import ProofreadConfig
from .lexicon import Scan
from .types import Finding

__all__ = ["check"]


def check(text: str, config: ProofreadConfig, scan: Scan) -> list[Finding]:
    findings = []
    for hit in scan.of("confusions"):
        rule = hit.rule
        findings.append(
            Finding(
                kind="typo",
                severity=rule.severity,
                start=hit.start,
                end=hit.end,
                text=text[hit.start : hit.end],
                suggestion=rule.replacement,
                message=rule.reason or f"疑似错别字，应为“{rule.replacement}”",
            )
        )
    return findings
