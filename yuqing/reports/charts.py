"""Charts for the Word documents, drawn with matplotlib in a CJK font.

matplotlib is imported here only (it is heavy and only report generation needs it), with the
non-interactive Agg backend. The font is found among the installed fonts (Debian's
fonts-noto-cjk); without one, Chinese labels would come out as empty boxes, so the search
fails loudly instead (``NoCJKFont``) and ``make test`` checks that no glyph is missing.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import cache
from typing import Any

PREFERRED = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Serif CJK SC",
)
COLOURS = ("#1f4e8c", "#ea7a12", "#1b6e43", "#d22a2a", "#6b5bd2", "#5d6877")


class NoCJKFont(RuntimeError):
    pass


@cache
def cjk_font() -> str:
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in PREFERRED:
        if name in names:
            return name
    for name in sorted(names):
        if "CJK" in name and ("SC" in name or "JP" in name):
            return name
    raise NoCJKFont("no CJK font found for charts: install fonts-noto-cjk")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.family"] = [cjk_font()]
    plt.rcParams["axes.unicode_minus"] = False
    # Fixed metadata: the same numbers give the same bytes (reproducible documents).
    plt.rcParams["svg.hashsalt"] = "yuqing"
    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _axes(title: str, width: float = 6.4, height: float = 3.0) -> tuple[Any, Any]:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_title(title, fontsize=11, loc="left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color="#e8ebf0")
    ax.set_axisbelow(True)
    return fig, ax


def bars(title: str, rows: Sequence[Sequence[Any]], *, horizontal: bool = True) -> bytes:
    """One bar per (label, value) row."""
    labels = [str(r[0]) for r in rows]
    values = [float(r[1]) for r in rows]
    fig, ax = _axes(title, height=max(2.2, 0.32 * len(rows) + 0.8))
    if horizontal:
        ax.barh(labels[::-1], values[::-1], color=COLOURS[0])
        ax.grid(axis="x", color="#e8ebf0")
        ax.grid(axis="y", visible=False)
    else:
        ax.bar(labels, values, color=COLOURS[0])
    return _png(fig)


def lines(title: str, labels: Sequence[str], series: dict[str, Sequence[float]]) -> bytes:
    fig, ax = _axes(title)
    for i, (name, values) in enumerate(series.items()):
        ax.plot(list(labels), list(values), label=name, color=COLOURS[i % len(COLOURS)], lw=2)
    ax.legend(frameon=False, fontsize=9)
    ax.set_ylim(bottom=0)
    step = max(1, len(labels) // 10)
    ax.set_xticks(range(0, len(labels), step))
    ax.set_xticklabels([labels[i] for i in range(0, len(labels), step)], fontsize=8)
    return _png(fig)


def charts_for(data: dict[str, Any]) -> list[tuple[str, bytes]]:
    """The charts of one report's data, in document order, as (caption, PNG)."""
    from django.utils.translation import gettext as _

    out: list[tuple[str, bytes]] = []
    series = data.get("series") or {}
    if series.get("months"):
        rows = series["months"]
        out.append(
            (
                _("Mentions per month"),
                lines(
                    _("Mentions per month"),
                    [r[0] for r in rows],
                    {_("All"): [r[1] for r in rows], _("Negative"): [r[2] for r in rows]},
                ),
            )
        )
    elif series.get("days") and len(series["days"]) > 1:
        out.append(
            (
                _("Mentions per day by sentiment"),
                lines(_("Mentions per day by sentiment"), series["days"], series["by_sentiment"]),
            )
        )
    topics = [r for r in (data.get("tables") or {}).get("topics", []) if r[1]]
    if topics:
        out.append((_("Topics"), bars(_("Mentions by topic"), topics)))
    types = (data.get("tables") or {}).get("source_types", [])
    if types:
        out.append((_("Source types"), bars(_("Mentions by kind of source"), types)))
    return out
