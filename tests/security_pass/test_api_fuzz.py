"""The API fuzzed against its own OpenAPI document (schemathesis) on a live server, with a
school's token: no input makes it answer 5xx. Bounded: a fixed number of examples per
operation and a time budget, so the run stays well under two minutes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_push import make_token

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
MAX_EXAMPLES = int(os.environ.get("YUQING_FUZZ_EXAMPLES", "60"))
TIME_BUDGET_S = 60


def test_the_api_answers_no_input_with_a_server_error(
    live_server: Any, school: Any, tmp_path: Path
) -> None:
    if not SCHEMATHESIS.exists():
        pytest.fail("schemathesis is not installed: pip install -e '.[dev]'")
    token = make_token(school, can_push=True)
    report = tmp_path / "fuzz.json"
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{live_server.url}/api/v1/openapi.json",
        "--url",
        live_server.url,  # the document's paths start with /api/v1
        "-H",
        f"Authorization: Bearer {token}",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--max-time",
        str(TIME_BUDGET_S),
        "--seed",
        "20260301",
        "--phases",
        "coverage,fuzzing",
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--generation-database",
        "none",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
    ]
    run = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=TIME_BUDGET_S + 60,
        cwd=tmp_path,  # schemathesis keeps a .schemathesis folder in its working directory
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""},
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    # It really reached the API: a wrong base URL or a refused token would answer every
    # call with 404 or 401 and still "pass".
    assert "Missing test data" not in output, output[-3000:]
    events = report.read_text()
    assert '"status_code": 200' in events or '"status_code":200' in events, output[-3000:]
