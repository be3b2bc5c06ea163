"""Defacement: the page's visible text and tag structure compared with a stored baseline.

News lists change every day, so small changes are normal; a page whose text or structure
changed beyond the thresholds, or that carries words defacers leave, is a finding with a diff.
With no baseline yet, the run takes one (``data["baseline"]``) and reports nothing.
"""

from __future__ import annotations

import difflib
import re

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yuqing.security.checks.base import (
    CRITICAL,
    HIGH,
    Check,
    CheckContext,
    Outcome,
    Problem,
    squash,
)
from yuqing.security.guard import Target

TEXT_MIN_RATIO = 0.6
STRUCTURE_MIN_RATIO = 0.7
DEFACER_WORDS = re.compile(r"hacked\s+by|owned\s+by|被黑|黑客|入侵|h4ck|defaced", re.I)
MAX_DIFF_LINES = 80
BLOCKS = ("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "td", "th", "br", "title",
          "section", "article", "header", "footer", "nav", "ul", "ol", "table", "marquee")  # fmt: skip


def page_text(html: str) -> str:
    import lxml.html

    try:
        doc = lxml.html.document_fromstring(html)
    except Exception:  # empty or broken document
        return ""
    for bad in doc.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    # One line per block, so the diff reads like the page.
    for el in doc.iter(*BLOCKS):
        el.text = "\n" + (el.text or "")
        el.tail = "\n" + (el.tail or "")
    lines = [squash(line) for line in doc.text_content().splitlines()]
    return "\n".join(line for line in lines if line)


def page_structure(html: str) -> str:
    import lxml.html

    try:
        doc = lxml.html.document_fromstring(html)
    except Exception:
        return ""
    return " ".join(str(el.tag) for el in doc.iter() if isinstance(el.tag, str))


def compare(
    baseline_text: str, baseline_structure: str, text: str, structure: str
) -> tuple[float, float, str]:
    text_ratio = difflib.SequenceMatcher(
        None, baseline_text.splitlines(), text.splitlines(), autojunk=False
    ).ratio()
    structure_ratio = difflib.SequenceMatcher(
        None, baseline_structure.split(), structure.split(), autojunk=False
    ).ratio()
    diff = list(
        difflib.unified_diff(
            baseline_text.splitlines(), text.splitlines(), "baseline", "now", lineterm="", n=1
        )
    )
    return text_ratio, structure_ratio, "\n".join(diff[:MAX_DIFF_LINES])


class Defacement(Check):
    key = "defacement"
    label = gettext_lazy("Defacement")

    async def run(self, target: Target, ctx: CheckContext) -> Outcome:
        async with target.http_client(total_timeout=30) as client:
            result = await target.get(client, ctx.base_url, max_bytes=5 * 1024 * 1024)
        if result.status != 200:
            return Outcome(error=result.error_message or f"HTTP {result.status}")
        html = result.text()
        text, structure = page_text(html), page_structure(html)
        if not ctx.baseline_text and not ctx.baseline_structure:
            return Outcome(
                [],
                _("Baseline taken"),
                {"baseline": {"text": text, "structure": structure}},
            )
        text_ratio, structure_ratio, diff = compare(
            ctx.baseline_text, ctx.baseline_structure, text, structure
        )
        data = {"text_ratio": round(text_ratio, 3), "structure_ratio": round(structure_ratio, 3)}
        problems = []
        words = DEFACER_WORDS.findall(text) and not DEFACER_WORDS.search(ctx.baseline_text)
        if words or text_ratio < TEXT_MIN_RATIO or structure_ratio < STRUCTURE_MIN_RATIO:
            problems.append(
                Problem(
                    "changed",
                    CRITICAL if words or text_ratio < 0.3 else HIGH,
                    _("The page changed beyond the usual updates"),
                    _("Text %(text)s%% and structure %(structure)s%% the same as the baseline.")
                    % {
                        "text": round(text_ratio * 100),
                        "structure": round(structure_ratio * 100),
                    },
                    _(
                        "Look at the page now. If it was defaced, take it offline, restore it from "
                        "a backup and report it; if the change was intended, accept it as the new "
                        "baseline."
                    ),
                    {**data, "diff": diff},
                )
            )
        summary = _("Text %(text)s%%, structure %(structure)s%% like the baseline") % {
            "text": round(text_ratio * 100),
            "structure": round(structure_ratio * 100),
        }
        return Outcome(problems, summary, {**data, "diff": diff})
