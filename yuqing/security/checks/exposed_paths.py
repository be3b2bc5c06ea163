"""Sensitive files and consoles left reachable: a short fixed list, detection only.

Each path is requested once and judged by its content, not only its status: many school sites
answer every unknown path with 200 and the home page ("soft 404"), so a page equal to the
answer for a path that cannot exist is not a finding.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yuqing.security.checks.base import (
    CRITICAL,
    HIGH,
    LOW,
    Check,
    CheckContext,
    Outcome,
    Problem,
    page_url,
)
from yuqing.security.guard import Target


def _git_head(body: bytes) -> bool:
    return body.startswith(b"ref: refs/") or re.fullmatch(rb"[0-9a-f]{40}\s*", body) is not None


def _env(body: bytes) -> bool:
    lines = [ln for ln in body.decode("utf-8", "replace").splitlines() if ln.strip()][:50]
    pairs = [ln for ln in lines if re.match(r"^\s*[A-Z][A-Z0-9_]*\s*=", ln)]
    return bool(lines) and len(pairs) * 2 >= len(lines) and b"<html" not in body[:500].lower()


def _svn(body: bytes) -> bool:
    return re.match(rb"\d+\s*\n", body) is not None or b"wc-entries" in body[:1000]


def _zip(body: bytes) -> bool:
    return body.startswith(b"PK\x03\x04")


def _sql(body: bytes) -> bool:
    head = body[:20000].upper()
    return b"<HTML" not in head[:500] and (
        b"CREATE TABLE" in head or b"INSERT INTO" in head or b"-- MYSQL DUMP" in head
    )


def _phpmyadmin(body: bytes) -> bool:
    return b"phpmyadmin" in body[:20000].lower()


def _console(body: bytes) -> bool:
    head = body[:20000].lower()
    return b'type="password"' in head or b"type='password'" in head or b"type=password" in head


@dataclass(frozen=True)
class Probe:
    path: str
    severity: int
    matches: Callable[[bytes], bool]
    title: str


PROBES: tuple[Probe, ...] = (
    Probe("/.git/HEAD", CRITICAL, _git_head, "git"),
    Probe("/.env", CRITICAL, _env, "env"),
    Probe("/.svn/entries", HIGH, _svn, "svn"),
    Probe("/backup.zip", CRITICAL, _zip, "archive"),
    Probe("/www.zip", CRITICAL, _zip, "archive"),
    Probe("/db.sql", CRITICAL, _sql, "sql"),
    Probe("/phpmyadmin/", HIGH, _phpmyadmin, "phpmyadmin"),
    Probe("/admin/", LOW, _console, "console"),
)


def _title(kind: str) -> str:
    return {
        "git": _("The source code repository (.git) is downloadable"),
        "env": _("The configuration file .env is downloadable"),
        "svn": _("The source code repository (.svn) is downloadable"),
        "archive": _("A backup archive is downloadable"),
        "sql": _("A database dump is downloadable"),
        "phpmyadmin": _("phpMyAdmin is reachable from outside"),
        "console": _("An administration login is reachable from outside"),
    }[kind]


class ExposedPaths(Check):
    key = "exposed_paths"
    label = gettext_lazy("Exposed files and consoles")

    async def run(self, target: Target, ctx: CheckContext) -> Outcome:
        found: list[Problem] = []
        async with target.http_client(total_timeout=30) as client:
            missing = page_url(ctx, f"/{secrets.token_hex(8)}.txt")
            soft = await target.get(client, missing, max_bytes=64 * 1024, follow_redirects=False)
            soft_body = soft.body if soft.status == 200 else None
            for probe in PROBES:
                url = page_url(ctx, probe.path)
                result = await target.get(client, url, max_bytes=64 * 1024, follow_redirects=False)
                if result.status != 200 or (soft_body is not None and result.body == soft_body):
                    continue
                if not probe.matches(result.body):
                    continue
                found.append(
                    Problem(
                        f"path:{probe.path}",
                        probe.severity,
                        _title(probe.title),
                        url,
                        _(
                            "Remove the file from the web root, or deny the path in the web "
                            "server; change any passwords it contained."
                        )
                        if probe.title != "console"
                        else _("Allow the console from the school network only."),
                        {"url": url, "first_bytes": result.body[:80].decode("utf-8", "replace")},
                    )
                )
        summary = (
            _("Exposed: %(paths)s") % {"paths": ", ".join(p.key[5:] for p in found)}
            if found
            else _("None of %(count)s sensitive paths is exposed") % {"count": len(PROBES)}
        )
        return Outcome(found, summary, {"checked": [p.path for p in PROBES]})
