"""Scanner reports (nmap XML, OpenVAS/Greenbone XML) parsed into plain records.

Reports come from outside (the bureau, the police, a contractor), so they are parsed with
defusedxml: entity declarations (billion laughs) and external references are refused with a
clear error instead of being expanded or fetched. A DOCTYPE without entities is allowed —
real nmap files start with ``<!DOCTYPE nmaprun>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_REPORT_BYTES = 50 * 1024 * 1024


class ImportRefused(ValueError):
    """The file is not a report we can read, or is hostile."""


@dataclass
class ReportItem:
    host: str  # the address as the report names it
    hostnames: list[str]
    key: str  # stable within the report kind, host and port: folds repeated imports
    severity: int
    title: str
    detail: str = ""
    recommendation: str = ""
    port: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParsedReport:
    kind: str
    hosts: dict[str, list[str]]  # address -> host names
    open_ports: dict[str, list[int]]  # address -> open TCP ports (nmap)
    items: list[ReportItem]
    scanned_at: str = ""


def parse_xml(data: bytes) -> Any:
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    if len(data) > MAX_REPORT_BYTES:
        raise ImportRefused(f"the report is larger than {MAX_REPORT_BYTES // 1024 // 1024} MB")
    try:
        return fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise ImportRefused(
            f"refused: the XML declares entities or external references ({type(exc).__name__})"
        ) from None
    except ParseError as exc:
        raise ImportRefused(f"not well-formed XML: {exc}") from None


def parse_report(kind: str, data: bytes) -> ParsedReport:
    from yuqing.security.importers import nmap, openvas

    if kind == "nmap":
        return nmap.parse(data)
    if kind == "openvas":
        return openvas.parse(data)
    raise ImportRefused(f"unknown report kind {kind!r}")


def detect_kind(data: bytes) -> str | None:
    head = data[:4000]
    if b"<nmaprun" in head:
        return "nmap"
    if b"<report" in head or b"<get_reports_response" in head:
        return "openvas"
    return None
