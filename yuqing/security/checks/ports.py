"""Open TCP ports compared with the expected ones: a connect scan of a bounded list.

Connections start one at a time with a fixed spacing (the rate limit) and at most
``CONCURRENCY`` are in flight; a port that neither accepts nor refuses within the timeout
counts as filtered. Only the asset's own addresses are ever tried (``Target.open_connection``).
"""

from __future__ import annotations

import asyncio

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from yuqing.security.checks.base import (
    HIGH,
    LOW,
    MEDIUM,
    Check,
    CheckContext,
    Outcome,
    Problem,
    Stopwatch,
)
from yuqing.security.guard import Target

# Ports commonly found open on school servers, and the dangerous ones to find exposed.
DEFAULT_PORTS = (
    21, 22, 23, 25, 53, 80, 110, 135, 139, 143, 443, 445, 1433, 1521, 2049, 3306, 3389,
    5432, 5900, 6379, 7001, 8000, 8080, 8081, 8443, 8888, 9000, 9200, 11211, 27017,
)  # fmt: skip
MAX_PORTS = 200
CONCURRENCY = 20
# Remote desktop, databases and caches open to the world are how school servers get taken.
RISKY = {23: "Telnet", 135: "RPC", 139: "NetBIOS", 445: "SMB", 1433: "SQL Server",
         1521: "Oracle", 3306: "MySQL", 3389: "RDP", 5432: "PostgreSQL", 5900: "VNC",
         6379: "Redis", 9200: "Elasticsearch", 11211: "Memcached", 27017: "MongoDB"}  # fmt: skip


class Ports(Check):
    key = "ports"
    label = gettext_lazy("Open ports")
    kinds = frozenset({"website", "domain", "server", "device"})
    needs_url = False

    async def run(self, target: Target, ctx: CheckContext) -> Outcome:
        ports = sorted(set(ctx.scan_ports or DEFAULT_PORTS) | set(ctx.expected_ports))[:MAX_PORTS]
        watch = Stopwatch()
        gate = asyncio.Semaphore(CONCURRENCY)
        states: dict[int, str] = {}

        async def probe(port: int) -> None:
            async with gate:
                try:
                    _reader, writer = await target.open_connection(ctx.host, port, timeout=3)
                except TimeoutError:
                    states[port] = "filtered"
                    return
                except OSError:
                    states[port] = "closed"
                    return
                states[port] = "open"
                writer.close()

        tasks = []
        for port in ports:
            tasks.append(asyncio.create_task(probe(port)))
            await asyncio.sleep(ctx.port_spacing)
        await asyncio.gather(*tasks)
        open_ports = sorted(p for p, s in states.items() if s == "open")
        expected = set(ctx.expected_ports)
        problems = []
        for port in open_ports:
            if port in expected:
                continue
            service = RISKY.get(port)
            problems.append(
                Problem(
                    f"port:{port}",
                    HIGH if service else MEDIUM,
                    _("Unexpected open port %(port)s%(service)s")
                    % {"port": port, "service": f" ({service})" if service else ""},
                    _("Port %(port)s accepts connections but is not in the asset's expected ports.")
                    % {"port": port},
                    _(
                        "Close the port in the firewall, or add it to the expected ports if it is needed."
                    ),
                    {"port": port, "service": service or ""},
                )
            )
        closed_expected = sorted(p for p in expected if states.get(p) != "open")
        if closed_expected:
            problems.append(
                Problem(
                    "expected-closed",
                    LOW,
                    _("Expected ports are not open: %(ports)s")
                    % {"ports": ", ".join(map(str, closed_expected))},
                    _("A service the register lists may be down, or the register is out of date."),
                    _("Check the service, or update the expected ports."),
                    {"ports": closed_expected},
                )
            )
        summary = _("Open: %(open)s (expected: %(expected)s)") % {
            "open": ", ".join(map(str, open_ports)) or "-",
            "expected": ", ".join(map(str, sorted(expected))) or "-",
        }
        return Outcome(problems, summary, {"open": open_ports, "tried": len(ports)}, watch.ms)
