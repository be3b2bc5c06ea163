"""Proofreading before publication: personal data, forbidden words, wrong formulations, typos
and links, each finding with its exact position, severity and a suggested fix.

Plain Python, no Django (the text engine rule): the publishing app, the worker and the
``yuqing proofread`` command call the same code::

    from yuqing.text.proofread import ProofreadConfig, extract_text, proofread

    config = ProofreadConfig.from_dict(school_settings)  # build once, reuse: it compiles
    doc = extract_text(upload_bytes, "通知.docx")       # raises UnreadableDocument
    for finding in proofread(doc.text, config=config):
        ...

Checks, one module each: ``pii`` (ID numbers, mobiles, bank cards, students' names with
scores, home addresses), ``forbidden``, ``formulations`` (lexicon + leaders' titles),
``typos`` (confusion list), ``links`` (insecure links offline; dead links on allowed hosts
when ``config.check_links``). Word lists share one automaton (``lexicon``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from . import forbidden, formulations, links, pii, typos
from .config import CHECKS, ProofreadConfig, WordRule
from .extract import SUPPORTED, ExtractedDocument, Limits, UnreadableDocument, extract_text
from .types import Finding, Severity

if TYPE_CHECKING:
    from yuqing.lib.http import HttpClient

__all__ = [
    "CHECKS",
    "SUPPORTED",
    "ExtractedDocument",
    "Finding",
    "Limits",
    "ProofreadConfig",
    "Severity",
    "UnreadableDocument",
    "WordRule",
    "extract_text",
    "has_blocking",
    "proofread",
    "proofread_async",
]

T = TypeVar("T")


def _offline(text: str, config: ProofreadConfig) -> list[Finding]:
    found: list[Finding] = []
    enabled = config.checks
    if "pii" in enabled:
        found += pii.check(text, config)
    if enabled & {"forbidden", "formulations", "typos"}:
        scan = config.lexicon.scan(text)
        if "forbidden" in enabled:
            found += forbidden.check(text, config, scan)
        if "formulations" in enabled:
            found += formulations.check(text, config, scan)
        if "typos" in enabled:
            found += typos.check(text, config, scan)
    if "links" in enabled:
        found += links.check(text, config)
    return found


def _sorted(found: list[Finding]) -> list[Finding]:
    return sorted(set(found), key=Finding.sort_key)


def proofread(text: str, *, config: ProofreadConfig | None = None) -> list[Finding]:
    """Every finding in ``text``, in text order (most severe first at the same place).

    With ``config.check_links`` this also checks links on the allowed hosts over the network
    (blocking until done, at most about ``config.link_timeout`` seconds); from async code
    use ``proofread_async`` instead.
    """
    config = config or ProofreadConfig.default()
    found = _offline(text, config)
    if config.check_links and "links" in config.checks and config.link_hosts:
        found += _run(links.check_network(text, config))
    return _sorted(found)


async def proofread_async(
    text: str, *, config: ProofreadConfig | None = None, client: HttpClient | None = None
) -> list[Finding]:
    """``proofread`` for async callers; ``client`` lets a worker share its HTTP client."""
    config = config or ProofreadConfig.default()
    # The offline checks are CPU work; a long document should not stall the event loop.
    found = await asyncio.to_thread(_offline, text, config)
    if config.check_links and "links" in config.checks and config.link_hosts:
        found += await links.check_network(text, config, client=client)
    return _sorted(found)


def has_blocking(findings: list[Finding]) -> bool:
    return any(f.severity == "block" for f in findings)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code, even when called inside an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
