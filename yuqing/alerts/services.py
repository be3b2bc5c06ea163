"""Writes of the alerts module: rules, channels, raising, acknowledging, escalating, digests.

Every transition is one atomic function that checks the current state with a conditional
UPDATE, stamps who and when, and writes an audit entry with a dotted action name. Deliveries
are rows; ``delivery.py`` sends them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from yuqing.accounts.models import RoleAssignment, School, User
from yuqing.accounts.roles import Role
from yuqing.alerts import rules as rules_mod
from yuqing.alerts.models import (
    INAPP,
    LEVELS,
    URGENT_LEVELS,
    Alert,
    AlertPolicy,
    AlertRule,
    Channel,
    Delivery,
    EvaluationRequest,
    Level,
    MessageTemplate,
    Notification,
    PersonPrefs,
    Subscription,
)
from yuqing.audit.services import audit_record
from yuqing.core.tenancy import all_schools, require_scope, school_scope

EVALUATION_LEASE = dt.timedelta(minutes=5)
MAX_EVALUATION_ATTEMPTS = 3
MAX_MENTION_IDS = 50
NOTIFICATION_BODY_LIMIT = 4000


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or timezone.now()


# --------------------------------------------------------------------------- definitions


def policy_for(school_id: int) -> AlertPolicy:
    policy = AlertPolicy.objects.filter(school_id=school_id).first()
    if policy is None:
        try:
            with transaction.atomic():
                policy = AlertPolicy.objects.create(school_id=school_id)
        except IntegrityError:
            policy = AlertPolicy.objects.get(school_id=school_id)
    return policy


def policy_update(
    *,
    policy: AlertPolicy,
    ack_minutes: dict[str, int | None],
    escalation_roles: dict[str, list[str]],
) -> AlertPolicy:
    valid_roles = {r.value for r in Role}
    for level, roles in escalation_roles.items():
        unknown = [r for r in roles if r not in valid_roles]
        if unknown:
            raise ValidationError(
                {f"roles_{level}": _("Unknown roles: %(roles)s") % {"roles": ", ".join(unknown)}}
            )
    for level, minutes in ack_minutes.items():
        if minutes is not None and not (1 <= int(minutes) <= 7 * 24 * 60):
            raise ValidationError({f"ack_{level}": _("Enter minutes from 1 to 10080.")})
    policy.ack_minutes = {k: (int(v) if v else None) for k, v in ack_minutes.items()}
    policy.escalation_roles = escalation_roles
    policy.full_clean()
    policy.save()
    return policy


def rule_save(
    *,
    rule: AlertRule | None = None,
    name: str,
    kind: str,
    level: int,
    params: dict[str, Any],
    enabled: bool = True,
) -> AlertRule:
    """Create or change a rule; the kind's settings are validated and defaults filled in."""
    rule = rule or AlertRule()
    rule.name = name.strip()
    rule.kind = kind
    rule.level = int(level)
    rule.params = rules_mod.clean_params(kind, params)
    rule.enabled = enabled
    if rule.kind == AlertRule.Kind.WATCHED_SOURCE and rule.params["source_ids"]:
        from yuqing.monitor.models import Source

        found = set(
            Source.objects.filter(pk__in=rule.params["source_ids"]).values_list("pk", flat=True)
        )
        if found != set(rule.params["source_ids"]):
            raise ValidationError({"source_ids": _("Choose sources of this school.")})
    rule.assign_school()
    rule.full_clean()
    rule.save()
    return rule


def rule_delete(*, rule: AlertRule) -> None:
    rule.delete()


@dataclass(frozen=True)
class Backtest:
    days: int
    firings: list[rules_mod.Firing]

    @property
    def count(self) -> int:
        return len(self.firings)


def rule_backtest(
    *,
    name: str = "",
    kind: str,
    level: int,
    params: dict[str, Any],
    rule_id: int | None = None,
    days: int = 7,
    now: dt.datetime | None = None,
) -> Backtest:
    """ "Would have fired N times": the rule as typed, over the stored past; creates nothing."""
    end = _now(now)
    probe = AlertRule(
        pk=rule_id, name=name or "?", kind=kind, level=int(level), params=params, enabled=True
    )
    probe.params = rules_mod.clean_params(kind, params)
    return Backtest(days, rules_mod.backtest(probe, start=end - dt.timedelta(days=days), end=end))


def transport_errors(kind: str, config: dict[str, Any]) -> dict[str, str]:
    from yuqing.alerts.transports import transport_class

    try:
        cls = transport_class(kind)
    except ValueError as exc:
        return {"kind": str(exc)}
    return cls.validate_config(config, allow_custom_endpoint=allow_custom_endpoint())


def allow_custom_endpoint() -> bool:
    return bool(getattr(settings, "ALERTS_ALLOW_CUSTOM_ENDPOINT", False))


def allow_hosts() -> list[str]:
    return [*settings.FETCH_ALLOW_HOSTS, *getattr(settings, "ALERTS_ALLOW_HOSTS", [])]


def _levels(levels: Iterable[int | str]) -> list[int]:
    out = sorted({int(x) for x in levels})
    if any(x not in Level.values for x in out):
        raise ValidationError({"levels": _("Choose levels from blue to red.")})
    return out


def channel_save(
    *,
    channel: Channel | None = None,
    name: str,
    kind: str,
    config: dict[str, Any],
    levels: Iterable[int | str],
    enabled: bool = True,
) -> Channel:
    """Create or change a channel; a configuration the transport refuses is never stored."""
    errors = transport_errors(kind, config)
    if errors:
        raise ValidationError({f"config_{k}" if k != "kind" else k: v for k, v in errors.items()})
    channel = channel or Channel()
    channel.name = name.strip()
    channel.kind = kind
    channel.levels = _levels(levels)
    channel.enabled = enabled
    channel.set_config(config)
    channel.assign_school()
    channel.full_clean()
    channel.save()
    return channel


def subscription_save(
    *, user: User, channel: Channel | None, levels: Iterable[int | str]
) -> Subscription:
    sub = Subscription.objects.filter(user=user, channel=channel).first() or Subscription(
        user=user, channel=channel
    )
    sub.levels = _levels(levels)
    sub.assign_school()
    sub.full_clean(validate_constraints=False)
    if user.school_id != sub.school_id:
        raise ValidationError({"user": _("This person belongs to another school.")})
    sub.save()
    return sub


def subscription_delete(*, subscription: Subscription) -> None:
    subscription.delete()


def prefs_for(user: User) -> PersonPrefs:
    prefs = PersonPrefs.objects.filter(user=user).first()
    if prefs is None:
        prefs = PersonPrefs(user=user)
        if user.school_id is not None:
            prefs.school_id = user.school_id
    return prefs


def prefs_save(
    *,
    user: User,
    quiet_start: dt.time,
    quiet_end: dt.time,
    weekends_quiet: bool,
    digest_time: dt.time,
    time_zone: str = "Asia/Shanghai",
) -> PersonPrefs:
    try:
        ZoneInfo(time_zone)
    except (KeyError, ValueError):
        raise ValidationError({"time_zone": _("Unknown time zone.")}) from None
    prefs = prefs_for(user)
    prefs.quiet_start, prefs.quiet_end = quiet_start, quiet_end
    prefs.weekends_quiet = weekends_quiet
    prefs.digest_time = digest_time
    prefs.time_zone = time_zone
    prefs.full_clean()
    prefs.save()
    return prefs


# --------------------------------------------------------------------------- evaluation


def alerts_evaluate_after_ingest(
    *, school_id: int, event_ids: Iterable[int], mention_ids: Iterable[int]
) -> EvaluationRequest | None:
    """The monitor's hook: remember what an ingest batch brought and evaluate it at once.

    Call it inside the ingest transaction: the request row then commits with the mentions (a
    crash cannot lose it), and the evaluation task is enqueued only on commit.
    """
    event_ids, mention_ids = sorted(set(event_ids)), sorted(set(mention_ids))
    if not event_ids and not mention_ids:
        return None
    with school_scope(school_id):
        request = EvaluationRequest.objects.create(
            school_id=school_id, event_ids=event_ids, mention_ids=mention_ids
        )
    from yuqing.alerts import tasks

    transaction.on_commit(lambda: tasks.evaluate_request(request.pk))
    return request


def _claim_request(pk: int, now: dt.datetime) -> EvaluationRequest | None:
    with all_schools():
        row = EvaluationRequest.unscoped.filter(pk=pk, done_at=None).first()
        if row is None:
            return None
        if row.lease_until is not None and row.lease_until > now:
            return None
        won = EvaluationRequest.unscoped.filter(
            pk=pk, done_at=None, lease_until=row.lease_until
        ).update(lease_until=now + EVALUATION_LEASE)
        return row if won else None


def alert_evaluate_request(*, request_id: int, now: dt.datetime | None = None) -> list[Alert]:
    """Claim one evaluation request, run the school's rules over it, raise what fires."""
    now = _now(now)
    request = _claim_request(request_id, now)
    if request is None:
        return []
    try:
        with school_scope(request.school_id):
            raised = alerts_evaluate(
                school_id=request.school_id,
                event_ids=request.event_ids,
                mention_ids=request.mention_ids,
                now=now,
            )
    except Exception as exc:
        # Retried when the lease runs out; after a few tries it is kept with its error, so a
        # poisonous batch does not spin the loop for ever.
        attempts = request.error.count("|") + 1
        with all_schools():
            EvaluationRequest.unscoped.filter(pk=request.pk).update(
                error=(f"{request.error}|{type(exc).__name__}: {exc}")[-500:],
                done_at=now if attempts >= MAX_EVALUATION_ATTEMPTS else None,
            )
        raise
    with all_schools():
        EvaluationRequest.unscoped.filter(pk=request.pk).update(done_at=timezone.now())
    return raised


def evaluate_pending(*, now: dt.datetime | None = None, limit: int = 50) -> int:
    """Evaluate requests the queue has not taken (busy or killed workers)."""
    now = _now(now)
    with all_schools():
        ids = list(
            EvaluationRequest.unscoped.filter(done_at=None)
            .filter(Q(lease_until=None) | Q(lease_until__lt=now))
            .order_by("id")
            .values_list("pk", flat=True)[:limit]
        )
    done = 0
    for pk in ids:
        try:
            alert_evaluate_request(request_id=pk, now=now)
            done += 1
        except Exception:  # recorded on the request; the others must still be evaluated
            import logging

            logging.getLogger(__name__).exception("evaluation request %s failed", pk)
    return done


def alerts_evaluate(
    *,
    school_id: int,
    event_ids: Sequence[int],
    mention_ids: Sequence[int],
    now: dt.datetime | None = None,
) -> list[Alert]:
    """Run the school's enabled rules over a batch and raise (or fold) the alerts."""
    now = _now(now)
    with school_scope(school_id):
        rules = list(AlertRule.objects.filter(enabled=True))
        firings = rules_mod.evaluate_batch(
            rules=rules, event_ids=event_ids, mention_ids=mention_ids, now=now
        )
        raised: list[Alert] = []
        # Highest level first: a batch that makes an event red raises the red alert, and the
        # yellow firing of the same batch folds into it instead of raising a second alert.
        for firing in sorted(firings, key=lambda f: -f.level):
            outcome = alert_raise(school_id=school_id, firing=firing, now=now)
            if outcome.created:
                raised.append(outcome.alert)
    return raised


@dataclass(frozen=True)
class RaiseOutcome:
    alert: Alert
    created: bool


def _describe_change(previous: Alert, firing: rules_mod.Firing) -> str:
    before, after = previous.snapshot or {}, firing.snapshot or {}
    parts = [
        _("Level rose from %(old)s to %(new)s.")
        % {"old": Level(previous.level).label, "new": Level(firing.level).label}
    ]
    if before.get("mention_count") is not None and after.get("mention_count") is not None:
        parts.append(
            _("Mentions: %(old)s → %(new)s.")
            % {"old": before["mention_count"], "new": after["mention_count"]}
        )
    if before.get("peak_risk") != after.get("peak_risk") and after.get("peak_risk") is not None:
        parts.append(
            _("Peak risk: %(old)s → %(new)s.")
            % {"old": before.get("peak_risk", "-"), "new": after["peak_risk"]}
        )
    parts.append(_("Now: %(reason)s") % {"reason": firing.reason})
    return " ".join(str(p) for p in parts)


def _same_subject(school_id: int, firing: rules_mod.Firing) -> Any:
    if firing.event_id is not None:
        return Alert.objects.filter(event_id=firing.event_id)
    return Alert.objects.filter(school_id=school_id, key=firing.key)


def alert_raise(*, school_id: int, firing: rules_mod.Firing, now: dt.datetime) -> RaiseOutcome:
    """Raise a new alert, or fold a repeat into the one already raised at this level or above.

    One alert per event and level is a database constraint; a concurrent raise that loses the
    race folds into the winner.
    """
    with school_scope(school_id), transaction.atomic():
        existing = list(_same_subject(school_id, firing).select_for_update().order_by("-level"))
        top = existing[0] if existing else None
        if top is not None and top.level >= firing.level:
            _fold(top, firing, now)
            return RaiseOutcome(top, False)
        alert = Alert(
            school_id=school_id,
            event_id=firing.event_id,
            key=firing.key,
            level=firing.level,
            rule_id=firing.rule_id,
            title=firing.title[:300],
            reason=firing.reason,
            changes=_describe_change(top, firing) if top is not None else "",
            mention_ids=firing.mention_ids[:MAX_MENTION_IDS],
            snapshot=firing.snapshot,
            created_at=now,
            last_seen_at=now,
        )
        policy = policy_for(school_id)
        limit = policy.ack_limit(alert.level)
        alert.escalate_at = now + limit if limit else None
        try:
            with transaction.atomic():
                alert.save(force_insert=True)
        except IntegrityError:
            winner = _same_subject(school_id, firing).filter(level=firing.level).first()
            if winner is None:
                raise
            _fold(winner, firing, now)
            return RaiseOutcome(winner, False)
        audit_record(
            "alerts.alert.raised",
            obj=alert,
            changes={
                "level": alert.level,
                "rule": firing.rule_name,
                "reason": alert.reason,
                "changes": alert.changes,
                "event": alert.event_id,
            },
        )
        _plan_alert(alert, policy, now)
    return RaiseOutcome(alert, True)


def _fold(alert: Alert, firing: rules_mod.Firing, now: dt.datetime) -> None:
    ids = list(dict.fromkeys([*firing.mention_ids, *(alert.mention_ids or [])]))[:MAX_MENTION_IDS]
    Alert.objects.filter(pk=alert.pk).update(
        repeat_count=F("repeat_count") + 1, last_seen_at=now, mention_ids=ids
    )
    alert.refresh_from_db()


# --------------------------------------------------------------------------- messages


def alert_url(alert: Alert) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("alerts:detail", args=[alert.pk])


def build_payload(
    alert: Alert, *, note: str = "", test: bool = False, lines: Sequence[str] = ()
) -> dict[str, Any]:
    """The ``Message`` fields of an alert, JSON-ready: stored on each delivery."""
    from yuqing.monitor.models import Mention

    summary = [note] if note else []
    summary.append(alert.reason)
    if alert.changes:
        summary.append(alert.changes)
    facts = list(lines)
    facts.append(_("Action: %(action)s") % {"action": LEVELS[alert.level].action})
    if alert.event_id is not None and alert.event is not None:
        event = alert.event
        facts.append(
            _("Mentions: %(n)s (negative %(neg)s), since %(first)s")
            % {
                "n": event.mention_count,
                "neg": event.negative_count,
                "first": timezone.localtime(event.first_at).strftime("%m-%d %H:%M"),
            }
        )
    recent = Mention.objects.filter(pk__in=(alert.mention_ids or [])[:3]).select_related("source")
    for m in recent:
        facts.append(f"{m.source.name}：{(m.title or m.text)[:60]}")
    school = School.objects.filter(pk=alert.school_id).values_list("name", flat=True).first()
    return {
        "level": alert.level,
        "title": alert.title,
        "summary": "\n".join(str(s) for s in summary if s),
        "url": alert_url(alert),
        "lines": [str(x) for x in facts],
        "school": school or "",
        "event": alert.event.title if alert.event_id and alert.event else "",
        "created_at": alert.created_at.isoformat(),
        "id": str(alert.pk),
        "test": test,
        "timezone": settings.TIME_ZONE,
    }


def message_from_payload(payload: dict[str, Any]) -> Any:
    from yuqing.alerts.transports.message import Message

    data = dict(payload)
    data["created_at"] = dt.datetime.fromisoformat(data["created_at"])
    data["lines"] = tuple(data.get("lines") or ())
    return Message(**data)


# --------------------------------------------------------------------------- who is told


def is_quiet(prefs: PersonPrefs, when: dt.datetime) -> bool:
    """Outside the person's working hours (their quiet hours, and weekends if they say so)."""
    local = when.astimezone(ZoneInfo(prefs.time_zone or settings.TIME_ZONE))
    if prefs.weekends_quiet and local.weekday() >= 5:
        return True
    t, start, end = local.time(), prefs.quiet_start, prefs.quiet_end
    if start == end:
        return False
    if start < end:
        return start <= t < end
    return t >= start or t < end


def _users_with_role(school_id: int, role: str) -> list[User]:
    ids = RoleAssignment.objects.filter(school_id=school_id, role=role).values_list(
        "user_id", flat=True
    )
    return list(User.objects.filter(pk__in=ids, is_active=True).order_by("pk"))


@dataclass(frozen=True)
class EscalationStep:
    """Who is told at one escalation step of an alert, and how they were found.

    ``via`` says whose route was followed: the alert's case's route, the school's default
    route, or (a school without handling routes) the alert policy's role ladder. ``position``
    is the route position (or ladder rung) told; steps passed over on the way are in
    ``skipped`` with why ("no_unit": the step's unit does not apply to this alert, "nobody":
    nobody on duty there).
    """

    VIA_CASE: ClassVar[str] = "case_route"
    VIA_SCHOOL: ClassVar[str] = "school_route"
    VIA_LADDER: ClassVar[str] = "ladder"

    via: str
    position: int
    total: int  # steps on the route (rungs on the ladder)
    label: str  # the step's label, or the role's name on the ladder
    users: list[User]
    route_name: str = ""
    case_number: str = ""
    skipped: tuple[tuple[int, str, str], ...] = ()
    administrators: bool = False  # nobody on duty up to the top: the school's administrators

    @property
    def is_last(self) -> bool:
        """Nobody above: a further escalation would tell nobody new."""
        return self.administrators or self.position >= self.total - 1

    def describe(self) -> str:
        """ "工作专班 (step 4 of 5 of the route “学生事务”)", plus what was passed over."""
        if self.via == self.VIA_LADDER:
            where = _(
                "%(label)s (rung %(n)s of %(total)s of the alert ladder; the school has no "
                "handling route)"
            ) % {"label": self.label, "n": self.position + 1, "total": self.total}
        elif self.administrators:
            where = _(
                "the school's administrators (nobody on duty up to the top of the route "
                "“%(route)s”)"
            ) % {"route": self.route_name}
        else:
            where = _("%(label)s (step %(n)s of %(total)s of the route “%(route)s”)") % {
                "label": self.label,
                "n": self.position + 1,
                "total": self.total,
                "route": self.route_name,
            }
        if self.via == self.VIA_CASE:
            where = _("%(where)s of case %(number)s") % {
                "where": where,
                "number": self.case_number,
            }
        if self.skipped:
            why = {
                "no_unit": _("not concerned by this alert"),
                "nobody": _("nobody on duty"),
            }
            passed = "; ".join(
                f"{label} ({why.get(reason, reason)})" for _pos, label, reason in self.skipped
            )
            where = _("%(where)s. Passed over: %(steps)s") % {"where": where, "steps": passed}
        return str(where)


def escalation_targets(
    alert: Alert, step: int, *, on: dt.date | None = None
) -> EscalationStep | None:
    """Who is told at escalation ``step`` of ``alert`` (0 = the first line, told at raise).

    The one place that answers "who gets step N":

    1. the alert has an open case with a route: that route, from the step above the one the
       case is at, with the case's unit;
    2. else the school has handling routes: the route the cases app gives a new case opened
       from this alert (``route_for(None)``), with no unit, so steps relative to a class or
       department are passed over;
    3. else (no routes at all): the alert policy's ladder of roles for the alert's level.

    Route step N is resolved by the cases app (``routes.resolve``): the people on duty there
    today (inactive people and recorded absences left out); a step with nobody is passed over
    for the next one up, and past the top the school's administrators are told. None means
    nobody is left above (the top was already told).
    """
    from yuqing.cases import routes
    from yuqing.cases.models import Case, Route

    case = (
        Case.objects.filter(alert_id=alert.pk, route__isnull=False, closed_at=None)
        .select_related("route", "org_unit")
        .order_by("-pk")
        .first()
        if alert.pk
        else None
    )
    route: Route | None
    if case is not None:
        via, route, unit = EscalationStep.VIA_CASE, case.route, case.org_unit
        start = max(step, case.step_index + 1) if step > 0 else step
    elif Route.objects.exists():  # route_for() would seed routes for a school without any
        via, route, unit, start = EscalationStep.VIA_SCHOOL, routes.route_for(None), None, step
    else:
        route = None
    total = route.steps.count() if route is not None else 0
    if route is None or total == 0:
        return _ladder_step(alert, step)
    if start >= total:
        return None
    found = routes.resolve(route, start, unit, on=on)
    assert found is not None  # upward resolution always finds someone
    return EscalationStep(
        via=via,
        position=found.index,
        total=total,
        label=found.label,
        users=list(found.users),
        route_name=route.name,
        case_number=case.number if case is not None else "",
        skipped=tuple(found.skipped),
        administrators=found.fallback,
    )


def _ladder_step(alert: Alert, step: int) -> EscalationStep | None:
    """The first rung from ``step`` of the policy's role ladder with someone holding it."""
    roles = policy_for(alert.school_id).roles_for(alert.level)
    skipped: list[tuple[int, str, str]] = []
    for position in range(step, len(roles)):
        label = str(Role(roles[position]).label) if roles[position] in Role.values else ""
        users = _users_with_role(alert.school_id, roles[position])
        if users:
            return EscalationStep(
                via=EscalationStep.VIA_LADDER,
                position=position,
                total=len(roles),
                label=label,
                users=users,
                skipped=tuple(skipped),
            )
        skipped.append((position, label or roles[position], "nobody"))
    return None


def notification_send(
    users: Iterable[User | int | None],
    *,
    title: str,
    body: str = "",
    level: int = Level.BLUE,
    alert: Alert | None = None,
    school_id: int | None = None,
) -> int:
    """The one way to put an in-app notification (the top bar's bell) in front of people.

    ``users`` may be people or their ids, with repeats and Nones; each active person gets one
    row. The school is the alert's, else ``school_id``, else the scope's writable school.
    Returns how many were written.
    """
    if int(level) not in Level.values:
        raise ValueError(f"notification level must be 1–4, not {level!r}")
    if alert is not None:
        school_id = alert.school_id
    if school_id is None:
        school_id = require_scope().writable
        if school_id is None:
            raise ValueError("a notification needs a school; the scope has none to write")
    wanted = list(dict.fromkeys(u if isinstance(u, int) else u.pk for u in users if u is not None))
    if not wanted:
        return 0
    active = set(User.objects.filter(pk__in=wanted, is_active=True).values_list("pk", flat=True))
    rows = [
        Notification(
            school_id=school_id,
            user_id=pk,
            alert=alert,
            level=int(level),
            title=str(title)[:300],
            body=str(body)[:NOTIFICATION_BODY_LIMIT],
        )
        for pk in wanted
        if pk in active
    ]
    Notification.objects.bulk_create(rows)
    return len(rows)


def _person_delivery(
    alert: Alert,
    user: User,
    channel: Channel,
    payload: dict[str, Any],
    purpose: str,
    now: dt.datetime,
    prefs_cache: dict[int, PersonPrefs],
) -> Delivery:
    prefs = prefs_cache.get(user.pk)
    if prefs is None:
        prefs = prefs_cache[user.pk] = prefs_for(user)
    held = alert.level not in URGENT_LEVELS and is_quiet(prefs, now)
    return Delivery(
        school_id=alert.school_id,
        alert=alert,
        channel=channel,
        user=user,
        purpose=purpose,
        payload=payload,
        status=Delivery.Status.HELD if held else Delivery.Status.PENDING,
        next_attempt_at=now,
        created_at=now,
    )


def _plan_alert(alert: Alert, policy: AlertPolicy, now: dt.datetime) -> list[Delivery]:
    """Deliveries and in-app notifications of a new alert; sending starts on commit."""
    payload = build_payload(alert)
    deliveries: list[Delivery] = []
    for channel in Channel.objects.filter(enabled=True).order_by("pk"):
        if alert.level in (channel.levels or []):
            deliveries.append(
                Delivery(
                    school_id=alert.school_id,
                    alert=alert,
                    channel=channel,
                    payload=payload,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    prefs_cache: dict[int, PersonPrefs] = {}
    people: list[User] = []
    subs = Subscription.objects.select_related("user", "channel").order_by("pk")
    for sub in subs:
        if alert.level not in (sub.levels or []) or not sub.user.is_active:
            continue
        people.append(sub.user)
        if sub.channel is not None and sub.channel.enabled:
            deliveries.append(
                _person_delivery(
                    alert, sub.user, sub.channel, payload, Delivery.Purpose.ALERT, now, prefs_cache
                )
            )
    first_line = escalation_targets(alert, 0, on=timezone.localdate(now))
    if first_line is not None:
        people.extend(first_line.users)
        alert.escalation_step = first_line.position
        alert.escalation_note = (_("First line: %(who)s.") % {"who": first_line.describe()})[:500]
        Alert.objects.filter(pk=alert.pk).update(
            escalation_step=alert.escalation_step, escalation_note=alert.escalation_note
        )
    title, body = inapp_wording(alert, payload, title=str(alert), body=alert.reason)
    notification_send(people, alert=alert, level=alert.level, title=title, body=body)
    Delivery.objects.bulk_create(deliveries)
    _after_commit_deliver()
    return deliveries


def _after_commit_deliver() -> None:
    from yuqing.alerts import tasks

    transaction.on_commit(tasks.deliver_now)


# --------------------------------------------------------------------------- transitions


def alert_acknowledge(*, alert: Alert, user: User, now: dt.datetime | None = None) -> Alert:
    """Someone has it in hand: escalation stops."""
    now = _now(now)
    with transaction.atomic():
        won = Alert.objects.filter(
            pk=alert.pk, status__in=[Alert.Status.OPEN, Alert.Status.ESCALATED]
        ).update(
            status=Alert.Status.ACKNOWLEDGED,
            acknowledged_by=user,
            acknowledged_at=now,
            escalate_at=None,
        )
        if not won:
            raise ValidationError(_("This alert was already acknowledged or closed."))
        alert.refresh_from_db()
        audit_record(
            "alerts.alert.acknowledged",
            obj=alert,
            changes={"status": ["open", "acknowledged"], "after_minutes": _minutes(alert, now)},
        )
        Notification.objects.filter(alert=alert, read_at=None).update(read_at=now)
    return alert


def _minutes(alert: Alert, now: dt.datetime) -> int:
    return int((now - alert.created_at).total_seconds() // 60)


def alert_close(*, alert: Alert, user: User, now: dt.datetime | None = None) -> Alert:
    now = _now(now)
    with transaction.atomic():
        previous = alert.status
        won = (
            Alert.objects.filter(pk=alert.pk)
            .exclude(status=Alert.Status.CLOSED)
            .update(
                status=Alert.Status.CLOSED,
                closed_at=now,
                escalate_at=None,
                acknowledged_by=alert.acknowledged_by or user,
                acknowledged_at=alert.acknowledged_at or now,
            )
        )
        if not won:
            raise ValidationError(_("This alert is already closed."))
        alert.refresh_from_db()
        audit_record("alerts.alert.closed", obj=alert, changes={"status": [previous, "closed"]})
    return alert


def alerts_escalate_due(*, now: dt.datetime | None = None) -> int:
    """Escalate every open alert past its acknowledgement limit, once per step."""
    now = _now(now)
    with all_schools():
        due = list(
            Alert.unscoped.filter(
                status__in=[Alert.Status.OPEN, Alert.Status.ESCALATED], escalate_at__lte=now
            ).values_list("pk", "school_id")
        )
    count = 0
    for pk, school_id in due:
        with school_scope(school_id):
            if alert_escalate(alert_id=pk, now=now):
                count += 1
    return count


def alert_escalate(*, alert_id: int, now: dt.datetime) -> bool:
    """Tell the next people on the alert's route (see ``escalation_targets``), once per step."""
    with transaction.atomic():
        alert = Alert.objects.filter(pk=alert_id).first()
        if alert is None or alert.escalate_at is None or alert.escalate_at > now:
            return False
        limit = policy_for(alert.school_id).ack_limit(alert.level)
        target = escalation_targets(alert, alert.escalation_step + 1, on=timezone.localdate(now))
        waited = int((now - alert.created_at).total_seconds() // 60)
        if target is not None:
            note = _(
                "Escalated: not acknowledged within %(minutes)s minutes; now sent to %(who)s."
            ) % {"minutes": waited, "who": target.describe()}
        else:
            note = _(
                "Not acknowledged within %(minutes)s minutes, and nobody is left above on "
                "the route."
            ) % {"minutes": waited}
        further = target is not None and not target.is_last and limit is not None
        won = Alert.objects.filter(
            pk=alert.pk,
            escalate_at=alert.escalate_at,
            status__in=[Alert.Status.OPEN, Alert.Status.ESCALATED],
        ).update(
            status=Alert.Status.ESCALATED,
            escalation_step=target.position if target is not None else alert.escalation_step,
            escalation_note=note[:500],
            escalate_at=(now + limit) if (further and limit) else None,
        )
        if not won:
            return False  # acknowledged meanwhile, or another worker escalated it
        alert.refresh_from_db()
        targets = target.users if target is not None else []
        audit_record(
            "alerts.alert.escalated",
            obj=alert,
            changes={
                "via": target.via if target else "",
                "route": target.route_name if target else "",
                "step": target.position if target else None,
                "label": target.label if target else "",
                "skipped": [label for _p, label, _why in target.skipped] if target else [],
                "administrators": bool(target and target.administrators),
                "targets": [u.username for u in targets],
            },
        )
        if targets:
            payload = build_payload(alert, note=note)
            prefs_cache: dict[int, PersonPrefs] = {}
            deliveries = []
            target_ids = [u.pk for u in targets]
            for sub in Subscription.objects.filter(user_id__in=target_ids).select_related(
                "user", "channel"
            ):
                if sub.channel is not None and sub.channel.enabled:
                    deliveries.append(
                        _person_delivery(
                            alert,
                            sub.user,
                            sub.channel,
                            payload,
                            Delivery.Purpose.ESCALATION,
                            now,
                            prefs_cache,
                        )
                    )
            Delivery.objects.bulk_create(deliveries)
            title, body = inapp_wording(alert, payload, title=str(alert), body=note)
            notification_send(
                targets,
                alert=alert,
                level=alert.level,
                title=f"{_('Escalated')}: {title}",
                body=body,
            )
            _after_commit_deliver()
    return True


# --------------------------------------------------------------------------- digests


def digests_build(*, now: dt.datetime | None = None) -> int:
    """One digest per person (and personal channel) once their digest time has come."""
    now = _now(now)
    with all_schools():
        held = list(
            Delivery.unscoped.filter(status=Delivery.Status.HELD)
            .values_list("school_id", "user_id", "channel_id")
            .distinct()
        )
    built = 0
    for school_id, user_id, channel_id in sorted(set(held)):
        with school_scope(school_id):
            user = User.objects.filter(pk=user_id).first()
            if user is None:
                continue
            prefs = prefs_for(user)
            local = now.astimezone(ZoneInfo(prefs.time_zone or settings.TIME_ZONE))
            if local.time() < prefs.digest_time or is_quiet(prefs, now):
                continue
            if _digest_one(school_id, user, channel_id, now):
                built += 1
    return built


def _digest_one(school_id: int, user: User, channel_id: int, now: dt.datetime) -> bool:
    with transaction.atomic():
        items = list(
            Delivery.objects.select_for_update()
            .filter(
                status=Delivery.Status.HELD, user=user, channel_id=channel_id, created_at__lte=now
            )
            .order_by("id")
        )
        if not items:
            return False
        lines = []
        top = 1
        for d in items:
            p = d.payload
            when = dt.datetime.fromisoformat(p["created_at"]).astimezone(
                ZoneInfo(settings.TIME_ZONE)
            )
            lines.append(f"[{Level(p['level']).label}] {when:%m-%d %H:%M} {p['title'][:60]}")
            top = max(top, int(p["level"]))
        school = School.objects.filter(pk=school_id).values_list("name", flat=True).first() or ""
        payload = {
            "level": top,
            "title": _("Morning digest: %(n)s alerts overnight") % {"n": len(items)},
            "summary": _("Alerts held during your quiet hours. Open Yuqing to acknowledge them."),
            "url": settings.SITE_URL.rstrip("/") + reverse("alerts:index"),
            "lines": lines[:12],
            "school": school,
            "event": "",
            "created_at": now.isoformat(),
            "id": f"digest-{user.pk}-{now:%Y%m%d%H%M}",
            "test": False,
            "timezone": settings.TIME_ZONE,
        }
        digest = Delivery.objects.create(
            school_id=school_id,
            channel_id=channel_id,
            user=user,
            purpose=Delivery.Purpose.DIGEST,
            payload=payload,
            next_attempt_at=now,
            created_at=now,
        )
        Delivery.objects.filter(pk__in=[d.pk for d in items]).update(
            status=Delivery.Status.DIGESTED, digest=digest
        )
        PersonPrefs.objects.filter(user=user).update(last_digest_on=now.date())
        audit_record(
            "alerts.digest.built",
            obj=digest,
            changes={"user": user.username, "items": len(items)},
        )
        _after_commit_deliver()
    return True


# --------------------------------------------------------------------------- channel tests


def channel_send_test(
    *, channel: Channel, level: int = 1, now: dt.datetime | None = None
) -> Delivery:
    """A real delivery through the channel's transport, marked as a test."""
    now = _now(now)
    school = School.objects.filter(pk=channel.school_id).values_list("name", flat=True).first()
    payload = {
        "level": int(level),
        "title": _("Test message from Yuqing"),
        "summary": _("If you can read this, the channel %(name)s works.") % {"name": channel.name},
        "url": settings.SITE_URL.rstrip("/") + reverse("alerts:channel_detail", args=[channel.pk]),
        "lines": [_("Sent at %(time)s") % {"time": timezone.localtime(now).strftime("%H:%M:%S")}],
        "school": school or "",
        "event": "",
        "created_at": now.isoformat(),
        "id": f"test-{channel.pk}-{int(now.timestamp())}",
        "test": True,
        "timezone": settings.TIME_ZONE,
    }
    with transaction.atomic():
        delivery = Delivery.objects.create(
            school_id=channel.school_id,
            channel=channel,
            purpose=Delivery.Purpose.TEST,
            payload=payload,
            next_attempt_at=now,
            created_at=now,
        )
        audit_record("alerts.channel.test_sent", obj=channel, changes={"delivery": delivery.pk})
        _after_commit_deliver()
    return delivery


def preview_for(channel_kind: str, alert_level: int, *, parts: dict[str, str] | None = None) -> Any:
    """A sample message of ``alert_level`` as ``channel_kind`` would send it: in the school's
    own template for that kind and level when it has one (or in ``parts``, a draft)."""
    from yuqing.alerts import templating
    from yuqing.alerts.transports import preview

    payload = {
        "level": alert_level,
        "title": _("Sample: parents complain about the canteen on a forum"),
        "summary": str(LEVELS[alert_level].action),
        "url": settings.SITE_URL.rstrip("/") + reverse("alerts:index"),
        "lines": [
            _("Mentions: %(n)s (negative %(neg)s), since %(first)s")
            % {"n": 12, "neg": 9, "first": "05-20 21:40"}
        ],
        "school": "",
        "event": "",
        "created_at": timezone.now().isoformat(),
        "id": "preview",
        "test": False,
        "timezone": settings.TIME_ZONE,
    }
    message = message_from_payload(payload)
    if parts is None:
        row = MessageTemplate.objects.filter(channel_kind=channel_kind, level=alert_level).first()
        parts = templating.parts_of(row) if row is not None else None
    shown = templating.apply(message, channel_kind, parts)
    if channel_kind == INAPP:
        from yuqing.alerts.transports import Preview

        return Preview(
            kind=INAPP,
            subject=shown.custom_subject or f"[{Level(alert_level).label}] {shown.clean_title}",
            text=shown.custom_text or shown.clean_summary,
        )
    return preview(channel_kind, shown)


def inapp_wording(
    alert: Alert, payload: dict[str, Any], *, title: str, body: str
) -> tuple[str, str]:
    """Title and body of an alert's in-app notification: the school's in-app template for the
    alert's level when it has one (over ``payload``, the message the channels get), else
    ``title`` and ``body``."""
    from yuqing.alerts.templating import TemplateCache

    message = TemplateCache().message(alert.school_id, INAPP, message_from_payload(payload))
    return (message.custom_subject or title, message.custom_text or body)


def _template_kind_level(channel_kind: str, level: int) -> None:
    from yuqing.alerts import templating

    if channel_kind not in templating.PARTS:
        raise ValidationError({"channel_kind": _("Unknown channel kind.")})
    if int(level) not in Level.values:
        raise ValidationError({"level": _("Choose levels from blue to red.")})


def template_for(channel_kind: str, level: int) -> MessageTemplate | None:
    """The school's own template for a channel kind and level; None: the built-in wording."""
    return MessageTemplate.objects.filter(channel_kind=channel_kind, level=int(level)).first()


def template_save(
    *, channel_kind: str, level: int, parts: dict[str, str], by: User | None = None
) -> MessageTemplate:
    """Store the school's wording for a channel kind and level; a template that is not valid
    (syntax, a refused tag or filter, an unknown variable) is never stored."""
    from yuqing.alerts import templating

    _template_kind_level(channel_kind, level)
    errors = templating.check_parts(channel_kind, parts)
    if errors:
        raise ValidationError(errors)
    row = template_for(channel_kind, level) or MessageTemplate(
        channel_kind=channel_kind, level=int(level)
    )
    for part in ("subject", "text", "html"):
        setattr(row, part, parts.get(part, "") if part in templating.PARTS[channel_kind] else "")
    row.updated_by = by
    row.assign_school()
    row.full_clean()
    row.save()  # audited: alerts.template.saved, with the before and after text
    return row


def template_reset(*, channel_kind: str, level: int) -> bool:
    """Back to the built-in wording; False when the school had none of its own."""
    _template_kind_level(channel_kind, level)
    row = template_for(channel_kind, level)
    if row is None:
        return False
    row.delete()  # audited: alerts.template.reset
    return True


def notifications_mark_read(*, user: User, now: dt.datetime | None = None) -> int:
    qs = Notification.objects.filter(user=user, read_at=None)
    if not qs.exists():
        return 0  # bureau people have none, and their scope may not write
    return int(qs.update(read_at=_now(now)))
