"""`yuqing proofread FILE` (here as `python -m yuqing.text.proofread`): output and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.monitor.collect.servers import LocalServer, serve
from yuqing.text.proofread.cli import proofread_main

from .helpers import make_docx, make_pdf, resident_id, zip_bomb_docx

ROOT = Path(__file__).resolve().parents[3]
ID = resident_id("11010519900307123")


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "yuqing.text.proofread", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_it_prints_findings_by_line_and_column_and_exits_1_when_blocking(tmp_path: Path) -> None:
    path = tmp_path / "notice.txt"
    path.write_text(f"关于家长会的通知\n请按装软件。\n学生身份证 {ID}\n", encoding="utf-8")
    result = run(path)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "2:2 warn typo: 按装 → 安装",
        f"3:7 block pii.id_number: {ID} → {ID[:3]}{'*' * 11}{ID[-4:]}",
    ]
    assert "Traceback" not in result.stderr


def test_it_exits_0_when_nothing_blocks(tmp_path: Path) -> None:
    path = tmp_path / "ok.md"
    path.write_text("# 通知\n\n同学们要再接再励。\n", encoding="utf-8")
    result = run(path)
    assert (result.returncode, result.stdout) == (0, "3:5 warn typo: 再接再励 → 再接再厉\n")


def test_it_writes_json_with_offsets_into_the_extracted_text(tmp_path: Path) -> None:
    path = tmp_path / "成绩.docx"
    path.write_bytes(make_docx(["成绩通报"], table=[["张三", "第1名", "98分"]]))
    result = run(path, "--json")
    assert result.returncode == 1
    rows = json.loads(result.stdout)
    assert rows == [
        {
            "kind": "pii.student_score",
            "severity": "block",
            "start": 5,
            "end": 7,
            "text": "张三",
            "suggestion": rows[0]["suggestion"],
        }
    ]


def test_it_checks_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "form.pdf"
    path.write_bytes(make_pdf(["审批表", f"身份证 {ID}"]))
    result = run(path, "--json")
    assert result.returncode == 1
    assert [row["kind"] for row in json.loads(result.stdout)] == ["pii.id_number"]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("missing.txt", None, "no such file"),
        ("old.doc", b"\xd0\xcf\x11\xe0", "unsupported file type .doc"),
        ("bomb.docx", zip_bomb_docx(), "zip bomb"),
        ("fake.pdf", b"hello", "not a PDF"),
    ],
)
def test_it_exits_2_with_one_line_for_an_unreadable_file(
    tmp_path: Path, name: str, content: bytes | None, reason: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = run(path)
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert reason in line and "Traceback" not in line


def test_it_exits_2_for_a_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "a.txt"
    doc.write_text("你好", encoding="utf-8")
    config = tmp_path / "config.json"
    config.write_text('{"leaders": {"张伟": 3}}', encoding="utf-8")
    assert proofread_main([str(doc), "--config", str(config)]) == 2
    assert "leaders" in capsys.readouterr().err
    config.write_text("{not json", encoding="utf-8")
    assert proofread_main([str(doc), "--config", str(config)]) == 2


def test_it_uses_a_schools_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "a.txt"
    doc.write_text("张伟副校长出席。", encoding="utf-8")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"leaders": {"张伟": "校长"}}), encoding="utf-8")
    assert proofread_main([str(doc), "--config", str(config)]) == 1
    assert capsys.readouterr().out == "1:3 block formulation.title: 副校长 → 校长\n"


def test_it_exits_2_on_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert proofread_main([]) == 2
    assert "usage" in capsys.readouterr().err


@pytest.fixture
def site() -> Iterator[LocalServer]:
    with serve() as server:

        @server.route("/live")
        async def live(request: web.Request) -> web.Response:
            return web.Response(text="ok")

        yield server


def test_it_checks_links_only_on_allowed_hosts(tmp_path: Path, site: LocalServer) -> None:
    doc = tmp_path / "links.txt"
    doc.write_text(f"{site.url('/live')}\n{site.url('/gone')}\n", encoding="utf-8")
    offline = run(doc)
    assert offline.returncode == 0 and site.hits == []
    online = run(doc, "--check-links", "--allow-host", "127.0.0.1")
    assert online.returncode == 1
    assert f"2:1 block link.dead: {site.url('/gone')}" in online.stdout
    assert sorted(set(site.paths())) == ["/gone", "/live"]


def test_the_engine_imports_no_django() -> None:
    code = (
        "import sys, yuqing.text.proofread as p, yuqing.text.proofread.cli; "
        "p.proofread('按装'); sys.exit('django' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False).returncode == 0
