"""The one result type of the proofreader: a finding with its exact place in the text."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["block", "warn", "info"]

# Most severe first: sorting and the "is anything blocking" question both use this order.
SEVERITY_ORDER: dict[str, int] = {"block": 0, "warn": 1, "info": 2}

__all__ = ["SEVERITY_ORDER", "Finding", "Severity"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found by a check.

    ``start``/``end`` are character offsets into the text that was checked, ``text`` is
    ``text[start:end]``. ``suggestion`` is replacement text when the fix is mechanical (a
    corrected word, a masked number) and a short instruction otherwise; ``message`` says why.
    ``kind`` is dotted by check: ``pii.id_number``, ``forbidden``, ``formulation.title``, …
    """

    kind: str
    severity: Severity
    start: int
    end: int
    text: str
    suggestion: str
    message: str

    @property
    def blocking(self) -> bool:
        return self.severity == "block"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def sort_key(self) -> tuple[int, int, int, str]:
        return (self.start, self.end, SEVERITY_ORDER[self.severity], self.kind)
