"""Who is acting, from where: set per request (or job) and read by the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Actor:
    user: Any  # a User, or None for the system itself
    ip: str = ""
    user_agent: str = ""
    name: str = ""  # who acted when no user is known (an anonymous visitor, a petitioner)

    @property
    def label(self) -> str:
        if self.user is not None:
            return str(self.user.get_username())
        return self.name or "system"


SYSTEM = Actor(user=None)
_actor: ContextVar[Actor] = ContextVar("yuqing_actor", default=SYSTEM)


def current_actor() -> Actor:
    return _actor.get()


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _actor.set(actor)
    try:
        yield actor
    finally:
        _actor.reset(token)


def client_ip(request: Any) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is trivially forged unless a known proxy sets it, and
    # a deployment behind a proxy rewrites REMOTE_ADDR there.
    return str(request.META.get("REMOTE_ADDR", ""))[:45]
