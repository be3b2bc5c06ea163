"""Fixtures of the collector tests: our own small files, and the shared public data sets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def shared_data_dir() -> Path | None:
    env = os.environ.get("YUQING_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [
        Path(__file__).resolve().parents[4] / "shared" / "data",
        Path("/work/shared/data"),
    ]
    return next((p for p in candidates if p.is_dir()), None)


@pytest.fixture
def fixture_bytes():
    def read(name: str) -> bytes:
        return (FIXTURES / name).read_bytes()

    return read


@pytest.fixture
def shared_data() -> Path:
    """The public data sets (read-only); the test is skipped where they are absent."""
    found = shared_data_dir()
    if found is None:
        pytest.skip("shared/data is not here: public fixture sets unavailable")
    return found
