"""Sending deliveries: claim, send through the channel's transport, record, retry.

Claiming follows healthchecks' sendalerts: a conditional UPDATE moves a row from pending (or
failed and due) to sending with a lease, so of several workers exactly one sends it; a worker
that dies mid-send leaves a lease that runs out, and the row is claimed again.

Order per channel: only the oldest unfinished delivery of a channel can be claimed, so while
delivery N waits for its retry, N+1 waits behind it, and a channel that was down for an hour
receives its backlog in the order it was raised. Test messages stand outside that queue.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from yuqing.alerts.models import Channel, Delivery
from yuqing.audit.services import audit_record
from yuqing.core.tenancy import all_schools, school_scope

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=2)
MAX_ATTEMPTS = 20  # with the backoff below: about four hours of retrying before giving up
BACKOFF_BASE = dt.timedelta(seconds=15)
BACKOFF_MAX = dt.timedelta(minutes=15)
UNFINISHED = (Delivery.Status.PENDING, Delivery.Status.FAILED, Delivery.Status.SENDING)


def backoff(attempts: int) -> dt.timedelta:
    """Wait after the ``attempts``-th failure: 15 s, 30 s, 1 min, … capped at 15 min."""
    return min(BACKOFF_BASE * (2 ** max(0, attempts - 1)), BACKOFF_MAX)


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    dead: int = 0
    ids: list[int] = field(default_factory=list)


def _claimable(now: dt.datetime) -> Q:
    return Q(
        status__in=[Delivery.Status.PENDING, Delivery.Status.FAILED], next_attempt_at__lte=now
    ) | Q(status=Delivery.Status.SENDING, lease_until__lt=now)


def claim_due(*, now: dt.datetime | None = None, limit: int = 50) -> list[Delivery]:
    """Claim due deliveries, at most one per channel (its oldest unfinished), plus tests."""
    now = now or timezone.now()
    claimed: list[Delivery] = []
    with all_schools():
        heads = (
            Delivery.unscoped.filter(status__in=UNFINISHED)
            .exclude(purpose=Delivery.Purpose.TEST)
            .values("channel_id")
            .annotate(first=Min("id"))
            .values("first")
        )
        candidates = list(
            Delivery.unscoped.filter(_claimable(now))
            .filter(Q(pk__in=heads) | Q(purpose=Delivery.Purpose.TEST))
            .order_by("next_attempt_at", "id")
            .values_list("pk", "status", "attempts", "lease_until")[:limit]
        )
        for pk, status, attempts, lease in candidates:
            if try_claim(pk, status=status, attempts=attempts, lease_until=lease, now=now):
                claimed.append(Delivery.unscoped.select_related("channel").get(pk=pk))
    return claimed


def try_claim(
    pk: int, *, status: str, attempts: int, lease_until: dt.datetime | None, now: dt.datetime
) -> bool:
    """Move one delivery, as it was read, to sending. Of two callers that read the same row,
    exactly one gets True: the second UPDATE no longer matches (attempts and status moved)."""
    with all_schools():
        return bool(
            Delivery.unscoped.filter(
                pk=pk, status=status, attempts=attempts, lease_until=lease_until
            ).update(
                status=Delivery.Status.SENDING,
                lease_until=now + LEASE,
                attempts=F("attempts") + 1,
            )
        )


def _messages(deliveries: list[Delivery]) -> list[Any]:
    """Each delivery's message in its school's wording for the channel (read before the async
    sending starts: the database is not used from the event loop)."""
    from yuqing.alerts import services
    from yuqing.alerts.templating import TemplateCache

    cache = TemplateCache()
    out: list[Any] = []
    for d in deliveries:
        try:
            message = services.message_from_payload(d.payload)
        except Exception as exc:  # a bad stored payload fails this delivery only
            out.append(exc)
            continue
        out.append(cache.message(d.school_id, d.channel.kind, message))
    return out


async def _send_all(deliveries: list[Delivery], messages: list[Any]) -> list[Any]:
    from yuqing.alerts import services
    from yuqing.alerts.transports import SendResult, get_transport
    from yuqing.lib.http import HttpClient

    async with HttpClient(allow_hosts=services.allow_hosts(), total_timeout=15) as client:

        async def one(d: Delivery, message: Any) -> Any:
            try:
                transport = get_transport(
                    d.channel.kind, allow_custom_endpoint=services.allow_custom_endpoint()
                )
                if isinstance(message, Exception):
                    raise message
                return await transport.send(
                    d.channel.config, message, client=client, delivery_id=f"yuqing-{d.pk}"
                )
            except Exception as exc:  # a transport bug must not lose the other deliveries
                log.exception("delivery %s failed inside the transport", d.pk)
                return SendResult(ok=False, retryable=True, error=f"{type(exc).__name__}: {exc}")

        return list(
            await asyncio.gather(*(one(d, m) for d, m in zip(deliveries, messages, strict=True)))
        )


def send_claimed(deliveries: list[Delivery], *, now: dt.datetime | None = None) -> DeliveryReport:
    report = DeliveryReport(claimed=len(deliveries))
    if not deliveries:
        return report
    ready: list[Delivery] = []
    for d in deliveries:
        if not d.channel.enabled:
            _record_outcome(
                d,
                ok=False,
                retryable=False,
                error="the channel is disabled",
                status=None,
                response="",
                report=report,
                now=now,
            )
        else:
            ready.append(d)
    results = asyncio.run(_send_all(ready, _messages(ready))) if ready else []
    for d, result in zip(ready, results, strict=True):
        _record_outcome(
            d,
            ok=bool(result.ok),
            retryable=bool(result.retryable),
            error=str(result.error or ""),
            status=result.status,
            response=str(result.response or ""),
            report=report,
            now=now,
            retry_after=getattr(result, "retry_after", None),
        )
    return report


def _record_outcome(
    d: Delivery,
    *,
    ok: bool,
    retryable: bool,
    error: str,
    status: int | None,
    response: str,
    report: DeliveryReport,
    now: dt.datetime | None,
    retry_after: float | None = None,
) -> None:
    now = now or timezone.now()
    report.ids.append(d.pk)
    common = {
        "last_status": status,
        "last_response": response[:1000],
        "last_error": error[:500],
        "lease_until": None,
    }
    with school_scope(d.school_id), transaction.atomic():
        mine = Delivery.objects.filter(pk=d.pk, status=Delivery.Status.SENDING, attempts=d.attempts)
        if ok:
            if not mine.update(status=Delivery.Status.SENT, sent_at=now, **common):
                return  # our lease ran out and another worker took it over
            report.sent += 1
            audit_record(
                "alerts.delivery.sent",
                obj=d,
                changes={
                    "channel": d.channel.name,
                    "alert": d.alert_id,
                    "purpose": d.purpose,
                    "attempts": d.attempts,
                    "status": status,
                },
            )
            if d.purpose == Delivery.Purpose.TEST:
                # The channel answers again: its backlog need not wait for the next backoff.
                Delivery.objects.filter(
                    channel_id=d.channel_id, status=Delivery.Status.FAILED
                ).update(next_attempt_at=now)
            return
        if retryable and d.attempts < MAX_ATTEMPTS:
            wait = backoff(d.attempts)
            if retry_after:
                wait = max(wait, dt.timedelta(seconds=min(retry_after, 3600)))
            if not mine.update(status=Delivery.Status.FAILED, next_attempt_at=now + wait, **common):
                return
            report.failed += 1
            audit_record(
                "alerts.delivery.failed",
                obj=d,
                changes={
                    "channel": d.channel.name,
                    "alert": d.alert_id,
                    "attempts": d.attempts,
                    "error": error[:200],
                    "retry_in_seconds": int(wait.total_seconds()),
                },
            )
            return
        if not mine.update(status=Delivery.Status.DEAD, **common):
            return
        report.dead += 1
        audit_record(
            "alerts.delivery.dead",
            obj=d,
            changes={
                "channel": d.channel.name,
                "alert": d.alert_id,
                "attempts": d.attempts,
                "error": error[:200],
            },
        )
        _tell_admins_of_loss(d, error)


def _tell_admins_of_loss(d: Delivery, error: str) -> None:
    """A message given up on is never silent: the school's administrators see it in the app."""
    from yuqing.accounts.models import RoleAssignment
    from yuqing.alerts import services

    admins = set(RoleAssignment.objects.filter(role="admin").values_list("user_id", flat=True))
    title = f"{d.channel.name}: {error[:120] or 'delivery failed'}"
    services.notification_send(
        sorted(admins),
        title=title,
        body=str(d.payload.get("title", ""))[:300],
        level=int(d.payload.get("level") or 1),
        alert=d.alert,
        school_id=d.school_id,
    )


def deliver_due(*, now: dt.datetime | None = None, rounds: int = 100) -> DeliveryReport:
    """Send everything due now, round after round (one per channel per round, in order)."""
    total = DeliveryReport()
    for _round in range(rounds):
        claimed = claim_due(now=now)
        if not claimed:
            break
        part = send_claimed(claimed, now=now)
        total.claimed += part.claimed
        total.sent += part.sent
        total.failed += part.failed
        total.dead += part.dead
        total.ids.extend(part.ids)
    return total


def channel_backlog(channel: Channel) -> int:
    return Delivery.objects.filter(channel=channel, status__in=UNFINISHED).count()
