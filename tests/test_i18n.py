"""The Simplified Chinese catalogue: complete, compiled, and used by default.

After adding or changing a string: `python manage.py makemessages -l zh_Hans --ignore=.venv`,
translate in yuqing/locale/zh_Hans/LC_MESSAGES/django.po, then `compilemessages`.
"""

from __future__ import annotations

import ast
import gettext
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

LOCALE = Path(settings.BASE_DIR) / "yuqing" / "locale" / "zh_Hans" / "LC_MESSAGES"
PO = LOCALE / "django.po"
MO = LOCALE / "django.mo"


@dataclass
class Entry:
    flags: set[str] = field(default_factory=set)
    fields: dict[str, str] = field(default_factory=dict)  # msgctxt, msgid, msgstr, msgstr[0]…

    @property
    def label(self) -> str:
        ctx = self.fields.get("msgctxt")
        return f"{ctx}|{self.fields.get('msgid')}" if ctx else repr(self.fields.get("msgid"))


def read_po(path: Path) -> list[Entry]:
    """A small reader for the parts of the PO format that makemessages writes."""
    entries: list[Entry] = []
    current = Entry()
    key = ""

    def flush() -> None:
        nonlocal current
        if "msgid" in current.fields:
            entries.append(current)
        current = Entry()

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            flush()
        elif line.startswith("#~"):
            continue  # obsolete entries are ignored by gettext
        elif line.startswith("#,"):
            current.flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            current.fields[key] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            if key == "msgctxt" and "msgid" in current.fields:
                flush()
            current.fields[key] = ast.literal_eval(value)
    flush()
    return entries


def test_it_has_a_translation_for_every_message() -> None:
    entries = [e for e in read_po(PO) if e.fields["msgid"]]  # the header has an empty msgid
    assert len(entries) > 100
    untranslated = [
        e.label
        for e in entries
        if not any(v for k, v in e.fields.items() if k.startswith("msgstr"))
    ]
    assert untranslated == [], f"untranslated: {untranslated}"


def test_it_has_no_fuzzy_translations() -> None:
    fuzzy = [e.label for e in read_po(PO) if "fuzzy" in e.flags]
    assert fuzzy == [], f"fuzzy (check and remove the flag): {fuzzy}"


def test_it_keeps_placeholders_in_translations() -> None:
    import re

    placeholder = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")
    broken = []
    for e in read_po(PO):
        wanted = sorted(placeholder.findall(e.fields["msgid"]))
        for key, value in e.fields.items():
            if (
                key.startswith("msgstr")
                and e.fields["msgid"]
                and sorted(placeholder.findall(value)) != wanted
            ):
                broken.append(e.label)
    assert broken == []


def test_it_ships_a_compiled_catalogue_that_matches_the_po_file(tmp_path: Path) -> None:
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        if os.environ.get("CI") == "true":
            pytest.fail("msgfmt (gettext) is needed to check the compiled catalogue")
        pytest.skip("msgfmt (gettext) is not installed")
    fresh = tmp_path / "django.mo"
    subprocess.run([msgfmt, "--check-format", "-o", str(fresh), str(PO)], check=True)

    # Compare what the catalogues say, not their bytes: gettext versions lay files out differently.
    def catalog(path: Path) -> dict[Any, str]:
        with open(path, "rb") as f:
            return dict(gettext.GNUTranslations(f)._catalog)  # type: ignore[attr-defined]

    assert catalog(MO) == catalog(fresh), "django.mo is stale: run `manage.py compilemessages`"


def test_it_shows_the_overview_in_chinese_by_default(people: dict[str, Any]) -> None:
    client = Client()
    client.force_login(people["admin"])
    html = client.get("/").content.decode()
    assert '<html lang="zh-hans"' in html
    assert "总览" in html and "舆情监测" in html and "近 30 天舆情信息量" in html
    assert "管理员" in html  # the role, translated


def test_it_switches_to_english_and_back(people: dict[str, Any]) -> None:
    client = Client()
    client.force_login(people["monitor"])
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    html = client.get("/").content.decode()
    assert '<html lang="en"' in html
    assert "Overview" in html and "Mentions over the last 30 days" in html and "Monitor" in html

    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "总览" in client.get("/").content.decode()


def test_it_names_module_and_role_differently_in_chinese(people: dict[str, Any]) -> None:
    # "Monitor" is both a module (舆情监测) and a role (舆情信息员).
    client = Client()
    client.force_login(people["monitor"])
    html = client.get("/").content.decode()
    assert "舆情监测" in html and "舆情信息员" in html
