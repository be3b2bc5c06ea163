"""The contract every check keeps: one small class, one ``run`` over a guarded ``Target``."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

from yuqing.security.guard import Target

# Severities (the values of models.Severity), here so checks need no Django model import.
INFO, LOW, MEDIUM, HIGH, CRITICAL = 0, 1, 2, 3, 4


@dataclass
class Problem:
    """What a check saw wrong; becomes (or updates) one finding with the same fingerprint."""

    key: str  # stable within the check and asset: the finding's fingerprint is built from it
    severity: int
    title: str
    detail: str = ""
    recommendation: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    problems: list[Problem] = field(default_factory=list)
    summary: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    elapsed_ms: int | None = None
    # Set when the check could not do its job (the site is down, a timeout): no verdict.
    error: str = ""


@dataclass
class CheckContext:
    """What a check may know about the asset besides the target (no database access)."""

    base_url: str = ""
    host: str = ""
    expected_ports: tuple[int, ...] = ()
    scan_ports: tuple[int, ...] = ()
    baseline_text: str = ""
    baseline_structure: str = ""
    ca_file: str = ""
    # Seconds between connection attempts of the port check (rate limit).
    port_spacing: float = 0.02


class Check:
    key: ClassVar[str]
    label: ClassVar[Any]
    kinds: ClassVar[frozenset[str]] = frozenset({"website", "domain"})
    needs_url: ClassVar[bool] = True

    @classmethod
    def applies_to(cls, asset: Any) -> bool:
        if asset.kind not in cls.kinds:
            return False
        return bool(asset.base_url) if cls.needs_url else bool(asset.target_host)

    async def run(self, target: Target, ctx: CheckContext) -> Outcome:
        raise NotImplementedError


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.monotonic()

    @property
    def ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


def page_url(ctx: CheckContext, path: str) -> str:
    return urljoin(ctx.base_url, path)


def same_site(url: str, target: Target) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in target.hosts


_WS = re.compile(r"\s+")


def squash(text: str) -> str:
    return _WS.sub(" ", text).strip()
