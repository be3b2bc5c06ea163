"""The `yuqing` command: help in plain words, one-line errors, audit verification."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tests.clitools import cli_env, yuqing
from yuqing import cli

COMMANDS = (
    "run",
    "worker",
    "migrate",
    "createadmin",
    "audit",
    "demo",
    "classify",
    "eval",
    "bench",
    "manage",
)


def test_it_lists_every_command_in_help(tmp_path: Path) -> None:
    result = yuqing("--help", env=cli_env(tmp_path))
    assert result.returncode == 0
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\b", result.stdout, re.MULTILINE), command
    assert "_web" not in result.stdout
    assert "yuqing run" in result.stdout


def test_it_explains_run_in_plain_words(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["run", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "Ctrl-C" in out and "PORT" in out and "YUQING_DATA_DIR" in out


def test_it_rejects_an_unknown_command_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["frobnicate"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unknown command 'frobnicate'" in err and "run" in err


def test_it_rejects_a_bad_option_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["worker", "--no-such-option"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_it_reports_an_unparsable_database_url_in_one_line(tmp_path: Path) -> None:
    result = yuqing("migrate", env=cli_env(tmp_path, database_url="nosuchdb://whatever"))
    assert result.returncode == 1
    assert result.stderr.startswith("yuqing: configuration error: DATABASE_URL")
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_it_reports_an_unreachable_database_in_one_line(tmp_path: Path) -> None:
    url = "postgres://nobody@127.0.0.1:9/nothing"  # port 9 (discard): nothing listens there
    result = yuqing("migrate", env=cli_env(tmp_path, database_url=url))
    assert result.returncode == 1
    assert result.stderr.startswith("yuqing: database error:"), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr


def test_it_reports_a_bad_setting_by_name(tmp_path: Path) -> None:
    result = yuqing("run", env=cli_env(tmp_path, PORT="eighty"))
    assert result.returncode == 1
    assert "PORT='eighty' is not a whole number" in result.stderr
    assert result.stderr.count("\n") == 1


def test_it_says_when_the_database_needs_migrating(tmp_path: Path) -> None:
    result = yuqing("audit", "verify", env=cli_env(tmp_path))
    assert result.returncode == 1
    assert "run `yuqing migrate`" in result.stderr


def test_it_hands_classify_to_the_text_engine_without_django(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import yuqing.text.cli

    seen: list[list[str]] = []
    monkeypatch.setattr(yuqing.text.cli, "classify_main", lambda argv: seen.append(argv) or 3)
    monkeypatch.setattr(cli, "setup_django", lambda: pytest.fail("classify must not set up Django"))
    assert cli.main(["classify", "in.jsonl", "--out", "x.jsonl"]) == 3
    assert seen == [["in.jsonl", "--out", "x.jsonl"]]


def test_it_hands_eval_and_bench_their_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    import yuqing.bench
    import yuqing.text.cli

    seen: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(yuqing.text.cli, "eval_main", lambda argv: seen.append(("eval", argv)) or 0)
    monkeypatch.setattr(yuqing.bench, "main", lambda argv: seen.append(("bench", argv)) or 0)
    assert cli.main(["eval", "--help-me"]) == 0
    assert cli.main(["bench", "--only", "text"]) == 0
    assert seen == [("eval", ["--help-me"]), ("bench", ["--only", "text"])]


def test_it_classifies_without_any_settings(tmp_path: Path) -> None:
    # A real `yuqing classify --help` with settings that would fail if Django were set up.
    result = yuqing("classify", "--help", env=cli_env(tmp_path, DATABASE_URL="nosuchdb://x"))
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout.lower()


@pytest.fixture
def audited_school(db: Any) -> Any:
    from yuqing.accounts.models import School
    from yuqing.core.tenancy import all_schools

    with all_schools():
        school = School.objects.create(name="审计中学", slug="audit-school")
        school.region = "滨海市"
        school.save()
    return school


def test_it_verifies_an_intact_audit_log(
    audited_school: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK, ") and " entries in " in out and "chains" in out


def test_it_detects_an_edited_audit_row(
    audited_school: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from yuqing.audit.models import AuditEntry

    entry = AuditEntry.unscoped.filter(school_id=audited_school.pk).order_by("seq").first()
    assert entry is not None
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuditEntry._meta.db_table} SET object_repr = %s WHERE id = %s",
            ["someone else", entry.pk],
        )
    assert cli.main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert f"entry #{entry.pk}" in err
    assert "changed after it was written" in err


def test_it_creates_an_administrator_once(
    audited_school: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from yuqing.accounts.models import User

    args = ["createadmin", "--no-input", "--username", "boss", "--school", "audit-school"]
    assert cli.main(args) == 0
    first = capsys.readouterr().out
    password = first.rsplit(": ", 1)[1].strip()
    assert User.objects.get(username="boss").check_password(password)

    assert cli.main(args) == 1
    assert "--reset" in capsys.readouterr().err

    assert cli.main([*args, "--reset"]) == 0
    new_password = capsys.readouterr().out.rsplit(": ", 1)[1].strip()
    assert new_password != password
    boss = User.objects.get(username="boss")
    assert boss.check_password(new_password) and boss.can("settings.manage")


def test_it_refuses_to_purge_younger_than_180_days(
    db: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["audit", "purge", "--days", "30"]) == 1
    assert "at least 180 days" in capsys.readouterr().err
