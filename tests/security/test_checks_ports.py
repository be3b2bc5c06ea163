"""The port check against a set of loopback listeners."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.security.conftest import findings_of, make_asset, run
from yuqing.security.models import CheckRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def listeners() -> Iterator[list[int]]:
    socks = []
    for _ in range(3):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        socks.append(s)
    yield [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def test_it_finds_open_ports_that_are_not_expected(school: Any, listeners: list[int]) -> None:
    closed = _closed_port()
    asset = make_asset(school, kind="server", name="教务服务器", host="127.0.0.1",
                       expected_ports=[listeners[0], closed], scan_ports=[*listeners, closed])  # fmt: skip
    result = run(asset, "ports")
    assert result.status == CheckRun.Status.PROBLEMS
    assert result.result["open"] == sorted(listeners)
    found = findings_of(asset)
    assert {f"port:{listeners[1]}", f"port:{listeners[2]}", "expected-closed"} == set(found)
    assert found["expected-closed"].evidence["ports"] == [closed]


def test_it_passes_when_the_open_ports_are_the_expected_ones(
    school: Any, listeners: list[int]
) -> None:
    asset = make_asset(school, kind="server", name="门户服务器", host="127.0.0.1",
                       expected_ports=listeners, scan_ports=listeners)  # fmt: skip
    assert run(asset, "ports").status == CheckRun.Status.PASSED
