"""``yuqing proofread FILE``: the publication checks on a document, before it enters the system.

Output, one finding per line: ``line:column severity kind: text → suggestion`` (1-based, in
the extracted text), or with ``--json`` a list of {kind, severity, start, end, text,
suggestion} with character offsets into the extracted text. Extraction warnings and a
summary go to stderr, so stdout stays machine-readable.

Exit codes: 0 nothing blocking; 1 at least one blocking finding; 2 the file or the config
could not be read (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import IO

from . import proofread
from .config import ProofreadConfig
from .extract import SUPPORTED, UnreadableDocument, extract_text
from .types import Finding

EXIT_OK, EXIT_BLOCKING, EXIT_UNREADABLE = 0, 1, 2

__all__ = ["EXIT_BLOCKING", "EXIT_OK", "EXIT_UNREADABLE", "build_parser", "proofread_main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_UNREADABLE, f"{self.prog}: {message}\n")


def build_parser(prog: str = "yuqing proofread") -> argparse.ArgumentParser:
    parser = _Parser(
        prog=prog,
        description=(
            "Check a document before publication: personal data, forbidden words, wrong "
            "official formulations, typos and links. Supported: " + " ".join(SUPPORTED)
        ),
        epilog="Exit codes: 0 nothing blocking, 1 blocking findings, 2 unreadable file.",
    )
    parser.add_argument("file", metavar="FILE", help="the document to check")
    parser.add_argument("--json", action="store_true", help="write the findings as JSON")
    parser.add_argument(
        "--config",
        metavar="config.json",
        help="a school's lists (forbidden, formulations, confusions, leaders, link_hosts…)",
    )
    parser.add_argument(
        "--check-links",
        action="store_true",
        help="fetch links on the allowed hosts to find dead ones (no other host is contacted)",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="H",
        help="a host whose links may be fetched (repeatable); subdomains included",
    )
    return parser


def _config(args: argparse.Namespace) -> ProofreadConfig:
    if args.config:
        path = Path(args.config)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise UnreadableDocument(f"cannot read config {path}: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UnreadableDocument(f"config {path} is not valid UTF-8 JSON: {exc}") from None
        try:
            config = ProofreadConfig.from_dict(data)
        except ValueError as exc:
            raise UnreadableDocument(f"config {path}: {exc}") from None
    else:
        config = ProofreadConfig.default()
    if args.allow_host or args.check_links:
        config = config.replace(
            link_hosts=(*config.link_hosts, *args.allow_host),
            check_links=config.check_links or args.check_links,
        )
    return config


def _one_line(text: str) -> str:
    return text.replace("\n", "\\n").replace("\t", "\\t")


def _write(out: IO[str], findings: list[Finding], positions: list[tuple[int, int]]) -> None:
    for finding, (line, column) in zip(findings, positions, strict=True):
        out.write(
            f"{line}:{column} {finding.severity} {finding.kind}: "
            f"{_one_line(finding.text)} → {_one_line(finding.suggestion)}\n"
        )


def proofread_main(argv: list[str] | None = None, *, prog: str = "yuqing proofread") -> int:
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage errors (2) and --help (0) have been printed
        return exc.code if isinstance(exc.code, int) else EXIT_UNREADABLE
    try:
        config = _config(args)
        document = extract_text(Path(args.file), Path(args.file).name)
    except UnreadableDocument as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    for warning in document.warnings:
        print(f"{prog}: warning: {args.file}: {warning}", file=sys.stderr)
    if config.check_links and not config.link_hosts:
        print(f"{prog}: no allowed host (--allow-host): no link was fetched", file=sys.stderr)
    findings = proofread(document.text, config=config)
    try:
        if args.json:
            keys = ("kind", "severity", "start", "end", "text", "suggestion")
            rows = [{k: getattr(f, k) for k in keys} for f in findings]
            json.dump(rows, sys.stdout, ensure_ascii=False, indent=1)
            sys.stdout.write("\n")
        else:
            _write(sys.stdout, findings, [document.position(f.start) for f in findings])
        sys.stdout.flush()
    except BrokenPipeError:  # `| head` closed the pipe: the exit code still tells
        sys.stderr.close()
    blocking = sum(1 for f in findings if f.severity == "block")
    if not args.json:
        print(f"{len(findings)} finding(s), {blocking} blocking", file=sys.stderr)
    return EXIT_BLOCKING if blocking else EXIT_OK
