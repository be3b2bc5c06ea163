"""The loopback polling benchmark in its quick form."""

from __future__ import annotations

import pytest

from yuqing.bench.collect import run


@pytest.mark.slow
def test_the_quick_polling_round_meets_its_targets() -> None:
    figures = run(quick=True, extraction=False)
    polling = figures["polling"]
    assert polling["feeds"] == 50
    assert polling["cold_round"]["responses"] == {"200": 50}
    assert polling["unchanged_answered_304_share"] == 1.0
    assert polling["unchanged_reparsed"] == 0
    assert figures["pass"] is True
