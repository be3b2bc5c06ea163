"""OpenVAS / Greenbone XML reports (GMP ``get_reports`` output or a saved report file)."""

from __future__ import annotations

from yuqing.security.importers import ImportRefused, ParsedReport, ReportItem, parse_xml

THREATS = {"critical": 4, "high": 3, "medium": 2, "low": 1, "log": 0, "debug": 0}


def _text(node: object, path: str) -> str:
    found = node.find(path) if hasattr(node, "find") else None
    return (found.text or "").strip() if found is not None and found.text else ""


def _severity(threat: str, score: str) -> int:
    try:
        value = float(score)
    except ValueError:
        value = -1.0
    if value >= 9.0:
        return 4
    return THREATS.get(threat.lower(), 2 if value >= 4 else 1 if value > 0 else 0)


def _tags(raw: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in raw.split("|"):
        name, _sep, value = part.partition("=")
        if name:
            out[name.strip()] = value.strip()
    return out


def parse(data: bytes) -> ParsedReport:
    root = parse_xml(data)
    report = root if root.tag == "report" else root.find(".//report")
    if report is None:
        raise ImportRefused("not an OpenVAS/Greenbone report (no <report> element)")
    # A saved report nests the content in a second <report> element.
    inner = report.find("report")
    if inner is not None:
        report = inner
    results = report.find("results")
    if results is None:
        raise ImportRefused("the report has no <results>")
    hosts: dict[str, list[str]] = {}
    for host in report.iter("host"):
        address = (host.text or "").strip()
        if address and host.find("start") is not None:
            names = [
                _text(d, "value")
                for d in host.iter("detail")
                if _text(d, "name") in ("hostname", "DNS-via-TargetDefinition")
            ]
            hosts[address] = [n for n in names if n]
    items: list[ReportItem] = []
    for result in results.iter("result"):
        host_el = result.find("host")
        address = (host_el.text or "").strip() if host_el is not None else ""
        if not address:
            continue
        hostname = _text(host_el, "hostname") if host_el is not None else ""
        hosts.setdefault(address, [hostname] if hostname else [])
        nvt = result.find("nvt")
        oid = nvt.get("oid", "") if nvt is not None else ""
        severity = _severity(_text(result, "threat"), _text(result, "severity"))
        if severity == 0:
            continue  # "Log" results are inventory, not problems
        port_text = _text(result, "port")
        number = port_text.split("/", 1)[0]
        tags = _tags(_text(nvt, "tags")) if nvt is not None else {}
        cves = [
            ref.get("id", "")
            for ref in (nvt.iter("ref") if nvt is not None else [])
            if ref.get("type") == "cve"
        ]
        items.append(
            ReportItem(
                host=address,
                hostnames=[hostname] if hostname else [],
                key=f"{oid or _text(result, 'name')}:{port_text}",
                severity=severity,
                title=_text(result, "name") or oid,
                detail=_text(result, "description") or tags.get("summary", ""),
                recommendation=_text(nvt, "solution")
                if nvt is not None
                else tags.get("solution", ""),
                port=int(number) if number.isdigit() else None,
                evidence={
                    "oid": oid,
                    "port": port_text,
                    "score": _text(result, "severity"),
                    "cves": cves,
                },
            )
        )
    return ParsedReport(kind="openvas", hosts=hosts, open_ports={}, items=items)
