"""nmap ``-oX`` reports: hosts, their addresses and names, and open ports with services.

Open ports become records; whether one is a problem (not in the asset's expected ports) is
decided when the report is matched with the register (``services.scan_import``).
"""

from __future__ import annotations

from yuqing.security.importers import ImportRefused, ParsedReport, ReportItem, parse_xml

RISKY = {23, 135, 139, 445, 1433, 1521, 3306, 3389, 5432, 5900, 6379, 9200, 11211, 27017}


def parse(data: bytes) -> ParsedReport:
    root = parse_xml(data)
    if root.tag != "nmaprun":
        raise ImportRefused("not an nmap XML report (the root element is not <nmaprun>)")
    hosts: dict[str, list[str]] = {}
    open_ports: dict[str, list[int]] = {}
    items: list[ReportItem] = []
    for host in root.iter("host"):
        status = host.find("status")
        if status is not None and status.get("state") not in (None, "up"):
            continue
        address = next(
            (
                a.get("addr", "")
                for a in host.iter("address")
                if a.get("addrtype") in ("ipv4", "ipv6")
            ),
            "",
        )
        if not address:
            continue
        names = [n.get("name", "") for n in host.iter("hostname") if n.get("name")]
        hosts[address] = names
        for port in host.iter("port"):
            state = port.find("state")
            if state is None or state.get("state") != "open" or port.get("protocol") != "tcp":
                continue
            try:
                number = int(port.get("portid", ""))
            except ValueError:
                raise ImportRefused(
                    f"bad port number in the report: {port.get('portid')!r}"
                ) from None
            open_ports.setdefault(address, []).append(number)
            service = port.find("service")
            name = service.get("name", "") if service is not None else ""
            product = " ".join(
                v
                for v in (
                    service.get("product", "") if service is not None else "",
                    service.get("version", "") if service is not None else "",
                )
                if v
            )
            items.append(
                ReportItem(
                    host=address,
                    hostnames=names,
                    key=f"port:{number}",
                    severity=3 if number in RISKY else 2,
                    title=f"{number}/tcp {name}".strip(),
                    detail=product,
                    port=number,
                    evidence={"service": name, "product": product, "port": number},
                )
            )
    return ParsedReport(
        kind="nmap",
        hosts=hosts,
        open_ports=open_ports,
        items=items,
        scanned_at=root.get("startstr", ""),
    )
