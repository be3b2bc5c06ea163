"""Is the site up, and how fast does it answer? Each run's response time is the history."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yuqing.security.checks.base import HIGH, LOW, Check, CheckContext, Outcome, Problem, Stopwatch
from yuqing.security.guard import Target

SLOW_MS = 5000


class Availability(Check):
    key = "availability"
    label = gettext_lazy("Availability and response time")
    kinds = frozenset({"website", "domain", "server", "device"})
    needs_url = False

    @classmethod
    def applies_to(cls, asset: object) -> bool:
        # Servers and devices without a web address are probed on their first expected port.
        return super().applies_to(asset) and bool(
            getattr(asset, "base_url", "") or getattr(asset, "expected_ports", None)
        )

    async def run(self, target: Target, ctx: CheckContext) -> Outcome:
        if ctx.base_url:
            return await self._http(target, ctx)
        return await self._tcp(target, ctx)

    async def _http(self, target: Target, ctx: CheckContext) -> Outcome:
        async with target.http_client(total_timeout=30) as client:
            result = await target.get(client, ctx.base_url, max_bytes=2 * 1024 * 1024)
        ms = int(result.elapsed * 1000)
        data = {"status": result.status, "ms": ms, "url": ctx.base_url}
        if result.status is None or result.status >= 500:
            why = result.error_message or f"HTTP {result.status}"
            return Outcome(
                problems=[
                    Problem(
                        "down",
                        HIGH,
                        _("The site does not answer"),
                        _("%(url)s: %(why)s") % {"url": ctx.base_url, "why": why},
                        _("Check the web server and its network connection."),
                        {"error": why},
                    )
                ],
                summary=_("Unreachable: %(why)s") % {"why": why},
                data={**data, "up": False},
                elapsed_ms=None,
            )
        problems = []
        if ms > SLOW_MS:
            problems.append(
                Problem(
                    "slow",
                    LOW,
                    _("The site answers slowly"),
                    _("The home page took %(ms)s ms.") % {"ms": ms},
                    _("Check the server load and the size of the home page."),
                    {"ms": ms},
                )
            )
        return Outcome(
            problems,
            _("Up: HTTP %(status)s in %(ms)s ms") % {"status": result.status, "ms": ms},
            {**data, "up": True},
            ms,
        )

    async def _tcp(self, target: Target, ctx: CheckContext) -> Outcome:
        port = ctx.expected_ports[0]
        watch = Stopwatch()
        try:
            _reader, writer = await target.open_connection(ctx.host, port, timeout=10)
        except (OSError, TimeoutError) as exc:
            why = str(exc) or type(exc).__name__
            return Outcome(
                [
                    Problem(
                        "down",
                        HIGH,
                        _("The server does not answer"),
                        _("%(host)s:%(port)s: %(why)s")
                        % {"host": ctx.host, "port": port, "why": why},
                        _("Check the server and its network connection."),
                    )
                ],
                _("Unreachable: %(why)s") % {"why": why},
                {"up": False, "port": port},
            )
        ms = watch.ms
        writer.close()
        return Outcome(
            [],
            _("Up: port %(port)s in %(ms)s ms") % {"port": port, "ms": ms},
            {"up": True, "ms": ms},
            ms,
        )
