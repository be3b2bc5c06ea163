"""`yuqing publishing verify`: check every sign-off signature and every signed-off draft.

The lead wires it into yuqing/cli.py as a subcommand calling ``verify_main(argv)``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def verify_main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="yuqing publishing verify",
        description="Check every sign-off signature, and that signed-off drafts still hold "
        "the content that was signed. Exit 1 when anything does not match.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print problems only")
    args = parser.parse_args(list(argv or []))
    from yuqing.cli import CliError, require_migrated, setup_django

    setup_django()
    try:
        require_migrated()
    except CliError as exc:
        print(f"yuqing publishing verify: {exc}", file=sys.stderr)
        return 2
    from yuqing.publishing.services import signatures_verify

    report = signatures_verify()
    for problem in report.problems:
        print(f"MISMATCH: {problem}", file=sys.stderr)
    if not report.ok:
        print(
            f"{len(report.problems)} problems in {report.signatures} signatures checked",
            file=sys.stderr,
        )
        return 1
    if not args.quiet:
        print(f"OK, {report.signatures} signatures verified")
    return 0
