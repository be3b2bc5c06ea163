"""Production settings pass Django's deployment checklist with no warnings at all."""

from __future__ import annotations

import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _random_key(length: int = 60) -> str:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return "".join(secrets.choice(alphabet) for _ in range(length))


def check_deploy(tmp_path: Path, **overrides: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YUQING_", "DJANGO_"))}
    env.pop("SECRET_KEY", None)
    env.pop("ALLOWED_HOSTS", None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "yuqing.settings",  # production settings, not the tests'
            "YUQING_HTTPS": "1",
            "SECRET_KEY": _random_key(),
            "ALLOWED_HOSTS": "yuqing.example.edu.cn",
            "YUQING_DATA_DIR": str(tmp_path),
        }
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_it_passes_the_deployment_checklist_without_warnings(tmp_path: Path) -> None:
    result = check_deploy(tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in output.upper() and "?: (" not in output


@pytest.mark.slow
def test_it_would_notice_an_insecure_deployment(tmp_path: Path) -> None:
    # The same check fails when HTTPS is off or DEBUG is on, so the test above means something.
    plain = check_deploy(tmp_path, YUQING_HTTPS=None)
    assert plain.returncode != 0
    assert "security.W012" in plain.stderr + plain.stdout  # session cookie not Secure
    debug = check_deploy(tmp_path, YUQING_DEBUG="1")
    assert debug.returncode != 0 and "security.W018" in debug.stderr + debug.stdout
