"""The strict settings readers: a bad value fails at start with the variable's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from yuqing.lib.env import ConfigError, envbool, envint, envlist, envsecret, envstr


def test_it_reads_strings_with_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YQ_TEST", raising=False)
    assert envstr("YQ_TEST", "fallback") == "fallback"
    monkeypatch.setenv("YQ_TEST", "value")
    assert envstr("YQ_TEST", "fallback") == "value"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("YES", True),
        (" on ", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("off", False),
        ("", False),
    ],
)
def test_it_reads_yes_no_values(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("YQ_FLAG", raw)
    assert envbool("YQ_FLAG", not expected) is expected


def test_it_uses_the_default_for_an_unset_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YQ_FLAG", raising=False)
    assert envbool("YQ_FLAG", True) is True


def test_it_names_the_variable_of_a_bad_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YQ_FLAG", "maybe")
    with pytest.raises(ConfigError, match="YQ_FLAG='maybe'"):
        envbool("YQ_FLAG")


def test_it_reads_whole_numbers_within_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YQ_N", " 42 ")
    assert envint("YQ_N", 1, minimum=1, maximum=100) == 42
    monkeypatch.setenv("YQ_N", "")
    assert envint("YQ_N", 7) == 7
    for bad, message in (
        ("4.5", "not a whole number"),
        ("0", "below the minimum 1"),
        ("101", "above the maximum 100"),
    ):
        monkeypatch.setenv("YQ_N", bad)
        with pytest.raises(ConfigError, match=message) as info:
            envint("YQ_N", 1, minimum=1, maximum=100)
        assert "YQ_N" in str(info.value)


def test_it_splits_lists_and_drops_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YQ_LIST", " a.example , ,b.example,")
    assert envlist("YQ_LIST") == ["a.example", "b.example"]
    monkeypatch.delenv("YQ_LIST")
    assert envlist("YQ_LIST", "x,y") == ["x", "y"]


def test_it_reads_secrets_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("  from-file\n", encoding="utf-8")
    monkeypatch.setenv("YQ_SECRET", "from-env")
    monkeypatch.setenv("YQ_SECRET_FILE", str(secret))
    assert envsecret("YQ_SECRET") == "from-file"  # the file wins: containers mount secrets
    monkeypatch.delenv("YQ_SECRET_FILE")
    assert envsecret("YQ_SECRET") == "from-env"


def test_it_names_an_unreadable_secret_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("YQ_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="YQ_SECRET_FILE"):
        envsecret("YQ_SECRET")
