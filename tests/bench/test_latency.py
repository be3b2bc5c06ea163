"""The latency suite runs end to end in a tiny mode and reports figures of the harness's shape."""

from __future__ import annotations

import json

import pytest

from yuqing.bench import latency

FIGURE_KEYS = {"name", "value", "unit", "target", "pass"}


@pytest.mark.slow
def test_it_measures_a_feed_item_until_its_mention_is_visible() -> None:
    # The full suite polls a 60 s source through a real worker; here a 3 s source is polled
    # in-process so the harness is checked in seconds, not minutes.
    result = latency.feed_latency(samples=2, interval=3, driver="inline")

    assert set(result) >= FIGURE_KEYS
    assert result["unit"] == "s"
    assert result["seen"] == 2 and result["missed"] == 0
    assert isinstance(result["value"], float) and result["value"] > 0
    assert {"p50", "max", "samples", "interval_s"} <= set(result)
    json.dumps(result)  # the report is one JSON document
