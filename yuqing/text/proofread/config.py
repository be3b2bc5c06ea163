"""What the proofreader looks for: word lists, leaders' titles and link settings.

A school edits its own lists (the publishing app stores them as JSON and builds a config with
``ProofreadConfig.from_dict``); the project seeds defaults from the TSV files in ``data/``.
Every word list of one config is compiled into ONE Aho-Corasick automaton (``lexicon.py``),
built on first use and kept on the config, so a config should be built once and reused.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .types import SEVERITY_ORDER, Severity

if TYPE_CHECKING:
    from .lexicon import Lexicon

__all__ = ["CHECKS", "ProofreadConfig", "WordRule", "load_tsv"]

DATA_DIR = Path(__file__).with_name("data")
CHECKS = ("pii", "forbidden", "formulations", "typos", "links")


@dataclass(frozen=True, slots=True)
class WordRule:
    """One entry of a word list: the word, what to write instead, and why.

    ``allow`` lists longer phrases in which the word is fine (按装 is a typo, but 按装修标准
    is not), so a hit inside one of them is dropped.
    """

    word: str
    replacement: str = ""
    reason: str = ""
    severity: Severity = "warn"
    allow: tuple[str, ...] = ()


def _severity(value: Any, default: Severity, where: str) -> Severity:
    if value in (None, ""):
        return default
    if value not in SEVERITY_ORDER:
        raise ValueError(f"{where}: severity must be block, warn or info, not {value!r}")
    return value  # type: ignore[no-any-return]


def load_tsv(path: Path, *, default_severity: Severity) -> tuple[WordRule, ...]:
    """Read a seed list: ``word<TAB>replacement<TAB>severity<TAB>reason[<TAB>allow|allow]``.

    Lines starting with ``#`` are comments; the first non-comment line is the header.
    """
    rules: list[WordRule] = []
    with path.open(encoding="utf-8", newline="") as fh:
        lines = [line for line in fh if line.strip() and not line.startswith("#")]
    for n, row in enumerate(csv.reader(lines[1:], delimiter="\t", quoting=csv.QUOTE_NONE), 2):
        cells = [c.strip() for c in row] + [""] * 5
        if not cells[0]:
            continue
        where = f"{path.name} entry {n}"
        rules.append(
            WordRule(
                word=cells[0],
                replacement=cells[1],
                severity=_severity(cells[2], default_severity, where),
                reason=cells[3],
                allow=tuple(a for a in cells[4].split("|") if a),
            )
        )
    return tuple(rules)


@cache
def seeded(name: str) -> tuple[WordRule, ...]:
    defaults: dict[str, Severity] = {"forbidden": "block", "formulations": "warn"}
    return load_tsv(DATA_DIR / f"{name}.tsv", default_severity=defaults.get(name, "warn"))


def _merge(base: Iterable[WordRule], override: Iterable[WordRule]) -> tuple[WordRule, ...]:
    """Seeded entries first, a school's entry replacing the seeded one for the same word."""
    merged = {rule.word: rule for rule in base}
    for rule in override:
        merged[rule.word] = rule
    return tuple(merged.values())


@dataclass(frozen=True)
class ProofreadConfig:
    """Everything one school's checks need. Build with ``default()`` or ``from_dict()``.

    ``leaders`` maps a person's name to the title(s) they hold; the name followed by any
    other title is a finding. ``link_hosts`` are the only hosts whose links are fetched when
    ``check_links`` is on. ``private_hosts`` are let past the HTTP client's private-address
    guard; None means the link hosts themselves, which suits the command line (whoever runs
    it chooses the hosts). A web deployment passes the operator's list instead: the link
    hosts are a school's setting, and must not open the server's intranet to its users.
    """

    forbidden: tuple[WordRule, ...] = ()
    formulations: tuple[WordRule, ...] = ()
    confusions: tuple[WordRule, ...] = ()
    leaders: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    link_hosts: tuple[str, ...] = ()
    check_links: bool = False
    link_timeout: float = 10.0
    checks: frozenset[str] = frozenset(CHECKS)
    private_hosts: tuple[str, ...] | None = None

    @classmethod
    def default(cls) -> ProofreadConfig:
        """The project's seeded lists, no leaders, no network."""
        return _default_config()

    @cached_property
    def lexicon(self) -> Lexicon:
        # Imported here: the automaton module pulls in the normaliser (OpenCC, numpy), and a
        # config that is only being validated should not pay for that.
        from .lexicon import Lexicon

        return Lexicon.build(self)

    def replace(self, **changes: Any) -> ProofreadConfig:
        """A copy with ``changes`` (its automaton is built afresh)."""
        return replace(self, **changes)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, defaults: bool = True) -> ProofreadConfig:
        """Build from JSON-like data; raise ``ValueError`` naming the bad key.

        Keys (all optional): ``forbidden`` ({word: reason} or a list of {word, reason,
        severity, allow}), ``formulations`` and ``confusions`` ({wrong: right} or a list of
        {word, replacement, reason, severity, allow}), ``leaders`` ({name: title or
        [titles]}), ``link_hosts`` ([host]), ``private_hosts`` ([host] or null),
        ``check_links`` (bool), ``link_timeout``
        (seconds), ``checks`` (names from CHECKS to run), ``use_defaults`` (bool, default
        true: merge with the seeded lists; a school's entry wins for the same word).
        """
        if not isinstance(data, Mapping):
            raise ValueError("config must be a JSON object")
        known = {
            "forbidden",
            "formulations",
            "confusions",
            "leaders",
            "link_hosts",
            "check_links",
            "link_timeout",
            "checks",
            "use_defaults",
            "private_hosts",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown config key(s): {', '.join(unknown)}")
        use_defaults = data.get("use_defaults", defaults)
        if not isinstance(use_defaults, bool):
            raise ValueError("use_defaults must be true or false")
        forbidden = _rules(data.get("forbidden"), "forbidden", "block", mapping_is="reason")
        formulations = _rules(data.get("formulations"), "formulations", "warn")
        confusions = _rules(data.get("confusions"), "confusions", "warn")
        if use_defaults:
            forbidden = _merge(seeded("forbidden"), forbidden)
            formulations = _merge(seeded("formulations"), formulations)
            confusions = _merge(seeded("confusions"), confusions)
        check_links = data.get("check_links", False)
        if not isinstance(check_links, bool):
            raise ValueError("check_links must be true or false")
        timeout = data.get("link_timeout", 10.0)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ValueError("link_timeout must be a positive number of seconds")
        checks = data.get("checks", list(CHECKS))
        if not isinstance(checks, list) or not all(c in CHECKS for c in checks):
            raise ValueError(f"checks must be a list drawn from {', '.join(CHECKS)}")
        return cls(
            forbidden=forbidden,
            formulations=formulations,
            confusions=confusions,
            leaders=_leaders(data.get("leaders")),
            link_hosts=_strings(data.get("link_hosts"), "link_hosts"),
            check_links=check_links,
            link_timeout=float(timeout),
            checks=frozenset(checks),
            private_hosts=(
                None
                if data.get("private_hosts") is None
                else _strings(data.get("private_hosts"), "private_hosts")
            ),
        )


@cache
def _default_config() -> ProofreadConfig:
    return ProofreadConfig(
        forbidden=seeded("forbidden"),
        formulations=seeded("formulations"),
        confusions=seeded("confusions"),
    )


def _strings(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{key} must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _leaders(value: Any) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("leaders must be an object of name: title (or a list of titles)")
    leaders: dict[str, tuple[str, ...]] = {}
    for name, titles in value.items():
        if not isinstance(name, str) or not name.strip():
            raise ValueError("leaders: every name must be a non-empty string")
        listed = [titles] if isinstance(titles, str) else titles
        if (
            not isinstance(listed, list)
            or not listed
            or not all(isinstance(t, str) and t.strip() for t in listed)
        ):
            raise ValueError(f"leaders: the title of {name} must be a string or list of strings")
        leaders[name.strip()] = tuple(t.strip() for t in listed)
    return leaders


def _rules(
    value: Any, key: str, default_severity: Severity, *, mapping_is: str = "replacement"
) -> tuple[WordRule, ...]:
    """Entries of one list, given as {word: text} or as a list of objects."""
    if value is None:
        return ()
    rules: list[WordRule] = []
    if isinstance(value, Mapping):
        for word, text in value.items():
            if not isinstance(word, str) or not word.strip() or not isinstance(text, str):
                raise ValueError(f"{key}: entries must map a word to a string")
            rule = WordRule(word=word.strip(), severity=default_severity)
            rules.append(
                replace(rule, reason=text)
                if mapping_is == "reason"
                else replace(rule, replacement=text)
            )
        return tuple(rules)
    if not isinstance(value, list):
        raise ValueError(f"{key} must be an object or a list of objects")
    for n, item in enumerate(value, 1):
        where = f"{key} entry {n}"
        if not isinstance(item, Mapping):
            raise ValueError(f"{where} must be an object")
        word = item.get("word")
        if not isinstance(word, str) or not word.strip():
            raise ValueError(f"{where}: 'word' must be a non-empty string")
        replacement, reason = item.get("replacement", ""), item.get("reason", "")
        if not isinstance(replacement, str) or not isinstance(reason, str):
            raise ValueError(f"{where}: 'replacement' and 'reason' must be strings")
        allow = item.get("allow", [])
        if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
            raise ValueError(f"{where}: 'allow' must be a list of strings")
        rules.append(
            WordRule(
                word=word.strip(),
                severity=_severity(item.get("severity"), default_severity, where),
                allow=tuple(a for a in allow if a),
                replacement=replacement,
                reason=reason,
            )
        )
    return tuple(rules)
