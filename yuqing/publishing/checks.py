"""The automatic checks, as publishing runs them: the text engine's proofreader
(``yuqing.text.proofread``, the same code as ``yuqing proofread``) with the school's own lists
on top of the project's seeded ones, over the draft's title, body and attached documents.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SEVERITIES = ("block", "warn", "info")


@dataclass(frozen=True)
class CheckFinding:
    kind: str
    severity: str
    start: int
    end: int
    text: str
    suggestion: str
    message: str
    where: str = "body"  # "title", "body" or "attachment:<name>"

    @property
    def key(self) -> str:
        # Stable across revisions while the same words stay in the same part: an override
        # survives unrelated edits, and a new occurrence elsewhere needs its own.
        return f"{self.where}|{self.kind}|{self.text}"[:300]

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["key"] = self.key
        return data


@dataclass(frozen=True)
class Lists:
    forbidden_words: list[str]
    formulations: list[list[str]]
    confusions: list[list[str]]
    leaders: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    link_hosts: list[str] = dataclasses.field(default_factory=list)
    use_seeded: bool = True
    check_links: bool = False


def _engine_config(lists: Lists) -> Any:
    from django.conf import settings

    from yuqing.text.proofread import ProofreadConfig

    return ProofreadConfig.from_dict(
        {
            "forbidden": {word: "" for word in lists.forbidden_words},
            "formulations": {wrong: right for wrong, right in lists.formulations},
            "confusions": {wrong: right for wrong, right in lists.confusions},
            "leaders": {name: list(titles) for name, titles in lists.leaders.items() if titles},
            "link_hosts": list(lists.link_hosts),
            "check_links": bool(lists.check_links and lists.link_hosts),
            "use_defaults": lists.use_seeded,
            # The school's own sites are which links to check, not which private addresses
            # the server may reach: that is the operator's list only (SSRF).
            "private_hosts": list(settings.FETCH_ALLOW_HOSTS),
        }
    )


def _run_engine(text: str, lists: Lists) -> list[CheckFinding]:
    from yuqing.text import proofread

    found = proofread.proofread(text, config=_engine_config(lists))
    return [
        CheckFinding(
            kind=str(f.kind),
            severity=str(f.severity),
            start=int(f.start),
            end=int(f.end),
            text=str(f.text),
            suggestion=str(f.suggestion or ""),
            message=str(getattr(f, "message", "") or ""),
        )
        for f in found
    ]


# --------------------------------------------------------------------------- entry point


def check_text(text: str, lists: Lists, *, where: str = "body") -> list[CheckFinding]:
    findings = [dataclasses.replace(f, where=where) for f in _run_engine(text, lists)]
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: (order.get(f.severity, 9), f.start))


def check_parts(parts: Iterable[tuple[str, str]], lists: Lists) -> list[CheckFinding]:
    """Check each (where, text) part; offsets are into that part's text."""
    out: list[CheckFinding] = []
    for where, text in parts:
        if text:
            out.extend(check_text(text, lists, where=where))
    return out
