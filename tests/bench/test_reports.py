"""The reports suite runs end to end in a tiny mode and reports figures of the harness's shape."""

from __future__ import annotations

import json

import pytest

from yuqing.bench import reports


@pytest.mark.slow
def test_it_times_the_overview_pages_and_the_half_year_report() -> None:
    figures = reports.figures(
        reports.measure(True, mentions=1000, report_mentions=500, postgres=False)
    )

    assert [f["name"] for f in figures] == [
        "reports.home_p95_ms",
        "reports.dashboard_p95_ms",
        "reports.half_year_generate_s",
    ]
    for f in figures:
        assert {"name", "value", "unit", "target", "pass"} <= set(f)
        assert isinstance(f["value"], float) and f["value"] > 0
        assert isinstance(f["pass"], bool)
    assert figures[0]["mentions"] == 1000 and figures[2]["mentions"] == 500
    assert figures[2]["docx_bytes"] > 0
    json.dumps(figures)  # the report is one JSON document
