"""Writes of the cases module: opening, moving along the route, timeline, closing, petitions.

Every write to a case is one atomic function: a conditional UPDATE on the case's ``version``
(and, for transitions, its current status) so that a stale form or a second person's click is
refused with a message instead of overwriting; then a timeline line, an audit entry with a
dotted action name and, where someone must act, in-app notifications.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from yuqing.accounts.models import OrgUnit, School, User
from yuqing.alerts.models import Channel as AlertChannel
from yuqing.alerts.models import Delivery, Level, Notification
from yuqing.alerts.services import notification_send
from yuqing.audit.services import audit_record
from yuqing.cases import files, routes
from yuqing.cases.deadlines import Clock
from yuqing.cases.models import (
    MANUAL_ACTIONS,
    Case,
    CaseAction,
    CaseAssignee,
    CaseEvidence,
    DeadlinePolicy,
    Petition,
    PetitionAttachment,
    PetitionReply,
    Route,
)
from yuqing.core.context import current_actor
from yuqing.core.tenancy import all_schools, require_scope, school_scope

S = Case.Status
OPEN_STATES = (S.NEW, S.ASSESSING, S.HANDLING, S.RESPONDED, S.REOPENED)


class StaleCase(ValidationError):
    """The case changed since the form was opened: nothing was saved."""


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or timezone.now()


def _user(by: Any) -> User | None:
    return by if getattr(by, "pk", None) is not None else None


def policy_for(school_id: int | None = None) -> DeadlinePolicy:
    school_id = school_id or require_scope().writable
    if school_id is None:
        raise ValueError("policy_for() needs a school (this scope writes none)")
    policy = DeadlinePolicy.objects.filter(school_id=school_id).first()
    if policy is None:
        try:
            with transaction.atomic():
                policy = DeadlinePolicy.objects.create(school_id=school_id)
        except IntegrityError:  # created meanwhile by another request
            policy = DeadlinePolicy.objects.get(school_id=school_id)
    return policy


@transaction.atomic
def policy_update(
    *,
    policy: DeadlinePolicy,
    levels: dict[str, dict[str, int | None]],
    petition_accept_workdays: int,
    petition_finish_days: int,
    petition_remind_workdays: int,
) -> DeadlinePolicy:
    policy.levels = levels
    policy.petition_accept_workdays = petition_accept_workdays
    policy.petition_finish_days = petition_finish_days
    policy.petition_remind_workdays = petition_remind_workdays
    policy.full_clean()
    policy.save()
    return policy


def case_url(case: Case) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("cases:detail", args=[case.pk])


def notify(users: Iterable[User], *, title: str, body: str, level: int = Level.BLUE) -> int:
    """In-app notifications (the top bar's bell), one per person, in the scope's school."""
    return notification_send(users, title=title, body=body, level=level)


def _timeline(
    case: Case,
    kind: str,
    text: str = "",
    *,
    by: Any = None,
    at: dt.datetime | None = None,
    data: dict[str, Any] | None = None,
) -> CaseAction:
    user = _user(by)
    action = CaseAction(
        case=case,
        kind=kind,
        text=text,
        by=user,
        actor_label=(user.get_username() if user else current_actor().label)[:150],
        at=at or timezone.now(),
        data=data or {},
    )
    action.assign_school()
    action.full_clean()
    action.save()
    return action


def _stale(case: Case) -> StaleCase:
    current = Case.objects.select_related("updated_by").filter(pk=case.pk).first()
    if current is None:
        return StaleCase(_("This case no longer exists."))
    who = str(current.updated_by) if current.updated_by else _("the system")
    when = timezone.localtime(current.updated_at).strftime("%H:%M:%S")
    return StaleCase(
        _(
            "%(who)s changed this case at %(when)s, after you opened it. Nothing of yours was "
            "saved: check the case as it is now and apply your change again."
        )
        % {"who": who, "when": when}
    )


def _write(
    case: Case,
    *,
    version: int,
    by: Any,
    now: dt.datetime,
    statuses: Sequence[str] | None = None,
    **changes: Any,
) -> Case:
    """The one conditional UPDATE every case write goes through."""
    qs = Case.objects.filter(pk=case.pk, version=version)
    if statuses is not None:
        qs = qs.filter(status__in=list(statuses))
    won = qs.update(version=F("version") + 1, updated_at=now, updated_by=_user(by), **changes)
    if not won:
        current = Case.objects.filter(pk=case.pk).values_list("version", flat=True).first()
        if current is not None and current == version and statuses is not None:
            raise ValidationError(_("This action is not possible in the case's current state."))
        raise _stale(case)
    case.refresh_from_db()
    return case


# --------------------------------------------------------------------------- routing


def _route_len(route: Route | None) -> int:
    return route.steps.count() if route else 0


def _resolution_changes(
    case: Case, res: routes.Resolution, policy: DeadlinePolicy, now: dt.datetime
) -> dict[str, Any]:
    step_limit = policy.minutes(case.level, "step_minutes")
    changes: dict[str, Any] = {
        "step_index": res.index,
        "step_label": res.label[:100],
        "current_unit": res.unit,
        "step_fallback": res.fallback,
        "step_started_at": now,
        "step_due_at": now + step_limit if step_limit else None,
    }
    if res.index >= _route_len(case.route) - 1 and not case.reported_at:
        changes["reported_at"] = now  # the case is with the top of the route
    return changes


def _assign(case: Case, res: routes.Resolution) -> None:
    CaseAssignee.objects.filter(case=case).delete()
    CaseAssignee.objects.bulk_create(
        [CaseAssignee(case=case, user=u, step_index=res.index) for u in res.users]
    )


def _record_resolution(case: Case, res: routes.Resolution, by: Any, now: dt.datetime) -> None:
    names = "、".join(str(u) for u in res.users)
    passed = [
        _("%(step)s (nobody on duty)") % {"step": label}
        if why == "nobody"
        else _("%(step)s (no such unit)") % {"step": label}
        for _i, label, why in res.skipped
    ]
    if res.fallback:
        text = _("Nobody on duty along the route; given to the administrators: %(names)s.") % {
            "names": names
        }
    else:
        text = _("Now with %(step)s: %(names)s.") % {"step": res.label, "names": names}
    if passed:
        text += " " + _("Passed over: %(steps)s.") % {"steps": "; ".join(passed)}
    _timeline(
        case,
        CaseAction.Kind.ROUTED,
        text,
        by=by,
        at=now,
        data={
            "step": res.index,
            "users": [u.pk for u in res.users],
            "fallback": res.fallback,
            "skipped": [list(s) for s in res.skipped],
        },
    )
    if res.fallback:
        audit_record(
            "cases.case.routed_to_admins",
            obj=case,
            changes={
                "skipped": [list(s) for s in res.skipped],
                "to": [u.username for u in res.users],
            },
        )


def _tell_assignees(case: Case, res: routes.Resolution, headline: str) -> None:
    notify(
        res.users,
        title=f"{headline}: {case.number} {case.title}",
        body=f"{res.label} · {case_url(case)}",
        level=case.level,
    )


# --------------------------------------------------------------------------- opening


def _next_number(now: dt.datetime) -> str:
    year = timezone.localtime(now).year
    prefix = f"{year}-"
    last = (
        Case.objects.filter(number__startswith=prefix)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    n = int(last.split("-")[1]) + 1 if last else 1
    return f"{prefix}{n:04d}"


def _deadlines(level: int, policy: DeadlinePolicy, start: dt.datetime) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field_name, key in (
        ("report_due_at", "report_minutes"),
        ("response_due_at", "respond_minutes"),
        ("close_due_at", "close_days"),
    ):
        limit = policy.minutes(level, key)
        out[field_name] = start + limit if limit else None
    return out


def case_open(
    *,
    title: str,
    level: int,
    source: str = Case.Source.MANUAL,
    summary: str = "",
    alert: Any = None,
    event: Any = None,
    mention_ids: Sequence[int] = (),
    org_unit: OrgUnit | None = None,
    route: Route | None = None,
    owner: User | None = None,
    by: Any = None,
    now: dt.datetime | None = None,
) -> Case:
    """Open a case and give it to whoever is on duty at the first step of its route."""
    now = _now(now)
    policy = policy_for()
    route = route or routes.route_for(org_unit)
    if alert is not None and event is None:
        event = alert.event
    if alert is not None and not mention_ids:
        mention_ids = list(alert.mention_ids or [])
    for _attempt in range(5):
        try:
            with transaction.atomic():
                case = Case(
                    number=_next_number(now),
                    title=title.strip()[:300],
                    summary=summary.strip(),
                    level=int(level),
                    source=source,
                    alert=alert,
                    event=event,
                    mention_ids=[int(m) for m in mention_ids][:200],
                    org_unit=org_unit,
                    owner=owner,
                    route=route,
                    opened_by=_user(by),
                    updated_by=_user(by),
                    created_at=now,
                    updated_at=now,
                    **_deadlines(int(level), policy, now),
                )
                res = routes.resolve(route, 0, org_unit)
                assert res is not None  # upward resolution always finds someone
                for key, value in _resolution_changes(case, res, policy, now).items():
                    setattr(case, key, value)
                case.assign_school()
                case.full_clean()
                case.save()
                _assign(case, res)
                _timeline(
                    case,
                    CaseAction.Kind.OPENED,
                    summary.strip()[:500],
                    by=by,
                    at=now,
                    data={"source": source, "alert": getattr(alert, "pk", None)},
                )
                _record_resolution(case, res, by, now)
                audit_record(
                    "cases.case.opened",
                    obj=case,
                    changes={
                        "source": source,
                        "level": case.level,
                        "route": str(route or ""),
                        "step": res.label,
                        "alert": getattr(alert, "pk", None),
                    },
                )
                _tell_assignees(case, res, _("New case"))
                if alert is not None and alert.is_active and _user(by) is not None:
                    # Someone has it in hand now: the alert stops escalating.
                    from yuqing.alerts.services import alert_acknowledge

                    # Acknowledged meanwhile by someone else: just as good.
                    with contextlib.suppress(ValidationError):
                        alert_acknowledge(alert=alert, user=by, now=now)
                return case
        except IntegrityError:
            continue  # two cases took the same number at once: take the next
    raise ValidationError(_("The case could not be numbered; try again."))


# --------------------------------------------------------------------------- editing


EDITABLE = ("title", "summary", "level", "org_unit", "owner", "response_draft")


def case_update(
    *, case: Case, version: int, by: Any, now: dt.datetime | None = None, **fields: Any
) -> Case:
    """Change the case's fields, refused when someone else saved first (``version``)."""
    now = _now(now)
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise TypeError(f"not editable: {sorted(unknown)}")
    with transaction.atomic():
        before = {k: getattr(case, k) for k in fields}
        probe = Case.objects.get(pk=case.pk)
        for key, value in fields.items():
            setattr(probe, key, value)
        probe.full_clean()
        changes = {k: v for k, v in fields.items() if before[k] != v}
        if not changes:
            if case.version != version:
                raise _stale(case)
            return case
        extra: dict[str, Any] = {}
        if "level" in changes:
            policy = policy_for()
            for key, value in _deadlines(int(changes["level"]), policy, case.created_at).items():
                if key == "report_due_at" and case.reported_at:
                    continue
                if key == "response_due_at" and case.first_response_at:
                    continue
                extra[key] = value
        case = _write(case, version=version, by=by, now=now, **changes, **extra)
        shown = {k: [str(before[k] or ""), str(v or "")] for k, v in changes.items()}
        if "response_draft" in changes:
            _timeline(case, CaseAction.Kind.RESPONSE_DRAFTED, "", by=by, at=now)
        others = [k for k in changes if k != "response_draft"]
        if others:
            _timeline(
                case,
                CaseAction.Kind.EDITED,
                ", ".join(str(getattr(Case._meta.get_field(k), "verbose_name", k)) for k in others),
                by=by,
                at=now,
                data={k: shown[k] for k in others},
            )
        audit_record(
            "cases.case.changed",
            obj=case,
            changes={k: ("…" if k in ("summary", "response_draft") else shown[k]) for k in changes},
        )
    return case


def case_add_action(
    *, case: Case, kind: str, text: str, by: Any, now: dt.datetime | None = None
) -> CaseAction:
    """A line on the timeline: facts verified, parents contacted, a note. Appending never
    conflicts with an edit, so no version is needed."""
    if kind not in MANUAL_ACTIONS:
        raise ValidationError({"kind": _("Choose what was done.")})
    if not text.strip():
        raise ValidationError({"text": _("Say what was done.")})
    now = _now(now)
    with transaction.atomic():
        action = _timeline(case, kind, text.strip(), by=by, at=now)
        audit_record(f"cases.case.{kind}", obj=case, changes={"action": action.pk})
    return action


def case_evidence_add(*, case: Case, checked: files.CheckedFile, by: Any) -> CaseEvidence:
    with transaction.atomic():
        evidence = CaseEvidence(
            case=case,
            original_name=checked.name,
            content_type=checked.content_type,
            size=len(checked.data),
            sha256=checked.sha256,
            uploaded_by=_user(by),
        )
        evidence.assign_school()
        evidence.file.name = files.store("cases", evidence.school_id, checked)
        evidence.full_clean()
        evidence.save()
        _timeline(
            case,
            CaseAction.Kind.EVIDENCE,
            f"{checked.name} · SHA-256 {checked.sha256}",
            by=by,
            data={"evidence": evidence.pk},
        )
        audit_record(
            "cases.case.evidence_added",
            obj=case,
            changes={"file": checked.name, "sha256": checked.sha256, "size": len(checked.data)},
        )
    return evidence


# --------------------------------------------------------------------------- transitions


def _transition(
    case: Case,
    *,
    to: str,
    allowed: Sequence[str],
    version: int,
    by: Any,
    now: dt.datetime,
    text: str = "",
    kind: str = CaseAction.Kind.STATE,
    extra: dict[str, Any] | None = None,
) -> Case:
    previous = case.status
    with transaction.atomic():
        case = _write(
            case, version=version, by=by, now=now, statuses=allowed, status=to, **(extra or {})
        )
        _timeline(
            case,
            kind,
            text or f"{S(previous).label} → {S(to).label}",
            by=by,
            at=now,
            data={"from": previous, "to": to},
        )
        audit_record(
            f"cases.case.{to}" if kind == CaseAction.Kind.STATE else f"cases.case.{kind}",
            obj=case,
            changes={"status": [previous, to]},
        )
    return case


def case_assess(*, case: Case, version: int, by: Any, now: dt.datetime | None = None) -> Case:
    """Someone has it in hand and is checking the facts."""
    return _transition(
        case, to=S.ASSESSING, allowed=(S.NEW, S.REOPENED), version=version, by=by, now=_now(now)
    )


def case_start_handling(
    *, case: Case, version: int, by: Any, now: dt.datetime | None = None
) -> Case:
    return _transition(
        case,
        to=S.HANDLING,
        allowed=(S.NEW, S.ASSESSING, S.REOPENED),
        version=version,
        by=by,
        now=_now(now),
    )


def case_mark_responded(
    *, case: Case, version: int, by: Any, note: str = "", now: dt.datetime | None = None
) -> Case:
    """The school has answered (publicly, or to the people concerned)."""
    now = _now(now)
    extra = {} if case.first_response_at else {"first_response_at": now}
    return _transition(
        case,
        to=S.RESPONDED,
        allowed=(S.ASSESSING, S.HANDLING, S.REOPENED),
        version=version,
        by=by,
        now=now,
        text=note.strip(),
        extra=extra,
    )


def case_close(
    *,
    case: Case,
    version: int,
    by: Any,
    summary: str,
    review_happened: str = "",
    review_done: str = "",
    review_changes: str = "",
    now: dt.datetime | None = None,
) -> Case:
    """Close with a summary; orange and red cases also need the after-action review."""
    now = _now(now)
    errors: dict[str, str] = {}
    if not summary.strip():
        errors["summary"] = _("A closing summary is required.")
    if case.needs_review:
        for name, value in (
            ("review_happened", review_happened),
            ("review_done", review_done),
            ("review_changes", review_changes),
        ):
            if not value.strip():
                errors[name] = _("Orange and red cases need the after-action review.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        case = _transition(
            case,
            to=S.CLOSED,
            allowed=(S.NEW, S.ASSESSING, S.HANDLING, S.RESPONDED, S.REOPENED),
            version=version,
            by=by,
            now=now,
            text=summary.strip(),
            kind=CaseAction.Kind.CLOSED,
            extra={
                "closure_summary": summary.strip(),
                "review_happened": review_happened.strip(),
                "review_done": review_done.strip(),
                "review_changes": review_changes.strip(),
                "closed_at": now,
                "closed_by": _user(by),
            },
        )
        CaseAssignee.objects.filter(case=case).delete()
    return case


def case_reopen(
    *, case: Case, version: int, by: Any, reason: str, now: dt.datetime | None = None
) -> Case:
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the case is reopened.")})
    now = _now(now)
    policy = policy_for()
    with transaction.atomic():
        close_limit = policy.minutes(case.level, "close_days")
        res = routes.resolve(case.route, case.step_index, case.org_unit)
        assert res is not None
        case = _transition(
            case,
            to=S.REOPENED,
            allowed=(S.CLOSED,),
            version=version,
            by=by,
            now=now,
            text=reason.strip(),
            kind=CaseAction.Kind.REOPENED,
            extra={
                "closed_at": None,
                "closed_by": None,
                "close_due_at": now + close_limit if close_limit else None,
                "overdue_sent": [],
                **_resolution_changes(case, res, policy, now),
            },
        )
        _assign(case, res)
        _record_resolution(case, res, by, now)
        _tell_assignees(case, res, _("Case reopened"))
    return case


def case_report_up(
    *, case: Case, version: int, by: Any, reason: str, now: dt.datetime | None = None
) -> Case:
    """上报: move the case to the next step up that has someone on duty."""
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the case is reported up.")})
    if not case.is_open:
        raise ValidationError(_("A closed case cannot be reported up."))
    length = _route_len(case.route)
    if case.step_index >= length - 1:
        raise ValidationError(_("The case is already with the top of its route."))
    now = _now(now)
    policy = policy_for()
    res = routes.resolve(case.route, case.step_index + 1, case.org_unit)
    assert res is not None
    previous = case.step_label
    with transaction.atomic():
        case = _write(
            case,
            version=version,
            by=by,
            now=now,
            statuses=OPEN_STATES,
            **_resolution_changes(case, res, policy, now),
        )
        _assign(case, res)
        _timeline(
            case,
            CaseAction.Kind.REPORTED_UP,
            reason.strip(),
            by=by,
            at=now,
            data={"from": previous, "to": res.label},
        )
        _record_resolution(case, res, by, now)
        audit_record(
            "cases.case.reported_up",
            obj=case,
            changes={"step": [previous, res.label], "reason": reason.strip()[:200]},
        )
        _tell_assignees(case, res, _("Reported up to you"))
    return case


def case_hand_back(
    *, case: Case, version: int, by: Any, reason: str, now: dt.datetime | None = None
) -> Case:
    """Hand the case back down to the nearest lower step that has someone on duty."""
    if not reason.strip():
        raise ValidationError({"reason": _("Say why the case is handed back.")})
    if not case.is_open:
        raise ValidationError(_("A closed case cannot be handed back."))
    if case.step_index == 0:
        raise ValidationError(_("The case is already at the first step of its route."))
    now = _now(now)
    policy = policy_for()
    res = routes.resolve(case.route, case.step_index - 1, case.org_unit, downward=True)
    if res is None:
        raise ValidationError(_("Nobody is on duty at the steps below; the case stays here."))
    previous = case.step_label
    with transaction.atomic():
        changes = _resolution_changes(case, res, policy, now)
        case = _write(case, version=version, by=by, now=now, statuses=OPEN_STATES, **changes)
        _assign(case, res)
        _timeline(
            case,
            CaseAction.Kind.HANDED_BACK,
            reason.strip(),
            by=by,
            at=now,
            data={"from": previous, "to": res.label},
        )
        _record_resolution(case, res, by, now)
        audit_record(
            "cases.case.handed_back",
            obj=case,
            changes={"step": [previous, res.label], "reason": reason.strip()[:200]},
        )
        _tell_assignees(case, res, _("Handed back to you"))
    return case


def case_response_submit(
    *,
    case: Case,
    version: int,
    by: Any,
    channels: Iterable[str],
    now: dt.datetime | None = None,
) -> Any:
    """Send the case's response draft into publication review as a publishing draft.

    The case's version is taken (a double click or a stale page is refused), the draft is
    created by the publishing module with ``case_id`` (its publication calls
    ``case_response_published``), and the timeline links to it.
    """
    from yuqing.publishing import content
    from yuqing.publishing.services import draft_create

    now = _now(now)
    text = (case.response_draft or "").strip()
    if not text:
        raise ValidationError(_("Write and save the response draft first."))
    if not case.is_open:
        raise ValidationError(_("This action is not possible in the case's current state."))
    with transaction.atomic():
        case = _write(case, version=version, by=by, now=now)
        title = _("Statement on %(title)s") % {"title": case.title}
        draft = draft_create(
            author=by,
            title=title[:200],
            body=content.markdownish_to_html(text),
            channels=channels,
            case_id=case.pk,
        )
        _timeline(
            case,
            CaseAction.Kind.RESPONSE_SUBMITTED,
            draft.title,
            by=by,
            at=now,
            data={"draft": draft.pk, "channels": list(draft.channels)},
        )
        audit_record(
            "cases.case.response_submitted",
            obj=case,
            changes={"draft": draft.pk, "channels": list(draft.channels)},
        )
    return draft


def case_response_published(
    *, case: Case, url: str, at: dt.datetime | None = None, by: Any = None
) -> Case:
    """Publication review calls this when the case's response goes live at ``url``.

    No version check: it comes from the publishing workflow, not from a form, and must not be
    lost because someone was editing the case at that moment.
    """
    at = _now(at)
    probe = Case(response_url=url)
    probe.clean_fields(exclude=[f.name for f in Case._meta.fields if f.name != "response_url"])
    with transaction.atomic():
        current = Case.objects.select_for_update().get(pk=case.pk)
        changes: dict[str, Any] = {"response_url": url, "response_published_at": at}
        if not current.first_response_at:
            changes["first_response_at"] = at
        if current.status in (S.NEW, S.ASSESSING, S.HANDLING, S.REOPENED):
            changes["status"] = S.RESPONDED
        case = _write(current, version=current.version, by=by, now=at, **changes)
        _timeline(case, CaseAction.Kind.RESPONSE_PUBLISHED, url, by=by, at=at)
        audit_record("cases.case.response_published", obj=case, changes={"url": url})
    return case


# --------------------------------------------------------------------------- overdue


OVERDUE_TEXT = {
    "step": lambda: _("not taken up at its step in time"),
    "report": lambda: _("not reported to the leadership group in time"),
    "respond": lambda: _("no first public response in time"),
    "close": lambda: _("not closed in time"),
}


def cases_escalate_overdue(*, now: dt.datetime | None = None) -> int:
    """Escalate every open case past one of its limits, once per limit (and step)."""
    now = _now(now)
    with all_schools():
        candidates = list(
            Case.unscoped.exclude(status=S.CLOSED)
            .filter(models_q_due(now))
            .values_list("pk", "school_id")
        )
    count = 0
    for pk, school_id in candidates:
        with school_scope(school_id):
            if case_escalate_overdue(case_id=pk, now=now):
                count += 1
    return count


def models_q_due(now: dt.datetime) -> Any:
    from django.db.models import Q

    return (
        Q(step_due_at__lte=now, status__in=[S.NEW, S.REOPENED])
        | Q(report_due_at__lte=now, reported_at__isnull=True)
        | Q(response_due_at__lte=now, first_response_at__isnull=True)
        | Q(close_due_at__lte=now)
    )


def case_escalate_overdue(*, case_id: int, now: dt.datetime | None = None) -> bool:
    now = _now(now)
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None:
            return False
        keys = {
            (f"step:{case.step_index}" if kind == "step" else kind): kind
            for kind in case.overdue_kinds(now)
        }
        new = {k: v for k, v in keys.items() if k not in (case.overdue_sent or [])}
        if not new:
            return False
        # The people at the case now, and the next step up (the administrators past the top).
        current = [a.user for a in case.assignees.select_related("user")]
        above = routes.resolve(case.route, case.step_index + 1, case.org_unit)
        targets = current + (above.users if above else [])
        what = "；".join(OVERDUE_TEXT[v]() for v in new.values())
        # Bookkeeping only: no version bump, so nobody's open form is made stale by it.
        Case.objects.filter(pk=case.pk).update(
            overdue_sent=[*(case.overdue_sent or []), *new.keys()]
        )
        _timeline(
            case,
            CaseAction.Kind.OVERDUE,
            what,
            at=now,
            data={"kinds": list(new.values()), "told": [u.pk for u in targets]},
        )
        audit_record(
            "cases.case.overdue",
            obj=case,
            changes={"kinds": list(new.values()), "told": [u.username for u in targets]},
        )
        notify(
            targets,
            title=f"{_('Overdue')}: {case.number} {case.title}",
            body=f"{what} · {case_url(case)}",
            level=case.level,
        )
        _queue_overdue_deliveries(case, what, sorted(new), now)
    return True


def _queue_overdue_deliveries(
    case: Case, what: str, keys: Sequence[str], now: dt.datetime
) -> list[Delivery]:
    """One escalation delivery per alert channel of the school that takes the case's level.

    The alerts module's queue sends them (claiming, retries, order per channel, giving up
    visibly): the case only writes the rows, in the same transaction as ``overdue_sent``, so a
    missed deadline reaches the channels exactly once.
    """
    channels = [
        c
        for c in AlertChannel.objects.filter(enabled=True).order_by("pk")
        if case.level in (c.levels or [])
    ]
    if not channels:
        return []
    school = School.objects.filter(pk=case.school_id).values_list("name", flat=True).first()
    payload = {
        "level": int(case.level),
        "title": f"{_('Overdue')}: {case.number} {case.title}",
        "summary": what,
        "url": case_url(case),
        "lines": [
            _("Case: %(number)s, status %(status)s")
            % {"number": case.number, "status": case.get_status_display()},
            *([_("At: %(step)s") % {"step": case.step_label}] if case.step_label else []),
        ],
        "school": school or "",
        "event": "",
        "created_at": now.isoformat(),
        "id": f"case-{case.pk}-{'-'.join(keys)}",
        "test": False,
        "timezone": settings.TIME_ZONE,
    }
    rows = Delivery.objects.bulk_create(
        Delivery(
            school_id=case.school_id,
            channel=channel,
            purpose=Delivery.Purpose.ESCALATION,
            payload=payload,
            next_attempt_at=now,
            created_at=now,
        )
        for channel in channels
    )
    from yuqing.alerts import tasks as alert_tasks

    transaction.on_commit(alert_tasks.deliver_now)
    return rows


# --------------------------------------------------------------------------- petitions


CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone


def new_query_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def code_hash(school_id: int, code: str) -> str:
    # Kept hashed: the code is the petitioner's only key to the replies.
    norm = "".join(c for c in code.upper() if c.isalnum())
    return hashlib.sha256(f"{school_id}:{norm}".encode()).hexdigest()


def warn_calendar_gaps(years: Iterable[int]) -> None:
    """Tell the administrators, once per year, that the holiday calendar needs an update."""
    for year in sorted(set(years)):
        title = _("The holiday calendar does not cover %(year)s") % {"year": year}
        if Notification.objects.filter(title=title).exists():
            continue
        audit_record(
            "cases.calendar.uncovered",
            school_id=require_scope().writable,
            changes={"year": year},
        )
        notify(
            routes.administrators(timezone.localdate()),
            title=title,
            body=_(
                "Petition deadlines in %(year)s count weekends only as days off until the "
                "chinese-calendar package is updated (pip install -U chinese-calendar)."
            )
            % {"year": year},
            level=Level.YELLOW,
        )


@dataclass
class Intake:
    channel: str
    subject: str
    body: str
    received_on: dt.date
    name: str = ""
    contact: str = ""
    reference: str = ""
    attachments: list[files.CheckedFile] = field(default_factory=list)


def petition_receive(
    *, intake: Intake, by: Any = None, now: dt.datetime | None = None
) -> tuple[Petition, str]:
    """Record a petition, start its clock and open its case; returns it and its query code."""
    now = _now(now)
    policy = policy_for()
    clock = Clock()
    accept_due = clock.add_workdays(intake.received_on, policy.petition_accept_workdays)
    code = new_query_code()
    with transaction.atomic():
        petition = Petition(
            channel=intake.channel,
            subject=intake.subject.strip()[:200],
            body=intake.body.strip(),
            name=intake.name.strip()[:60],
            contact=intake.contact.strip()[:100],
            reference=intake.reference.strip()[:60],
            received_on=intake.received_on,
            received_at=now,
            accept_due=accept_due,
            calendar_gaps=sorted(clock.gaps),
            created_by=_user(by),
        )
        petition.assign_school()
        petition.query_code_hash = code_hash(petition.school_id, code)
        petition.full_clean()
        petition.save()
        for checked in intake.attachments:
            attachment = PetitionAttachment(
                petition=petition,
                original_name=checked.name,
                content_type=checked.content_type,
                size=len(checked.data),
                sha256=checked.sha256,
            )
            attachment.assign_school()
            attachment.file.name = files.store("petitions", petition.school_id, checked)
            attachment.full_clean()
            attachment.save()
        case = case_open(
            title=f"[{petition.get_channel_display()}] {petition.subject}",
            summary=petition.body,
            level=Level.BLUE,
            source=Case.Source.PETITION,
            by=by,
            now=now,
        )
        Petition.objects.filter(pk=petition.pk).update(case=case)
        petition.case = case
        audit_record(
            "cases.petition.received",
            obj=petition,
            changes={
                "channel": petition.channel,
                "reference": petition.reference,
                "accept_due": accept_due,
                "attachments": [a.sha256 for a in intake.attachments],
            },
        )
        warn_calendar_gaps(clock.gaps)
    return petition, code


def petition_find(*, school_id: int, code: str) -> Petition | None:
    return Petition.objects.filter(query_code_hash=code_hash(school_id, code)).first()


def petition_decide(
    *,
    petition: Petition,
    accept: bool,
    reason: str = "",
    by: Any,
    today: dt.date | None = None,
) -> Petition:
    """Accept (the 60-day clock starts) or decline with a reason the petitioner will see."""
    today = today or timezone.localdate()
    if not accept and not reason.strip():
        raise ValidationError({"reason": _("Give the reason the petition is not accepted.")})
    policy = policy_for()
    clock = Clock()
    changes: dict[str, Any] = {
        "decided_on": today,
        "decision_reason": reason.strip(),
        "status": Petition.Status.ACCEPTED if accept else Petition.Status.NOT_ACCEPTED,
    }
    if accept:
        changes["finish_due"] = clock.add_days(today, policy.petition_finish_days)
        changes["calendar_gaps"] = sorted(set(petition.calendar_gaps or []) | clock.gaps)
    with transaction.atomic():
        won = Petition.objects.filter(pk=petition.pk, status=Petition.Status.RECEIVED).update(
            **changes
        )
        if not won:
            raise ValidationError(_("This petition was already decided."))
        petition.refresh_from_db()
        if petition.case_id:
            _timeline(
                petition.case,  # type: ignore[arg-type]
                CaseAction.Kind.NOTE,
                (
                    _("Petition accepted; to be finished by %(date)s.")
                    % {"date": petition.finish_due}
                    if accept
                    else _("Petition not accepted: %(reason)s") % {"reason": reason.strip()}
                ),
                by=by,
            )
        audit_record(
            "cases.petition.accepted" if accept else "cases.petition.not_accepted",
            obj=petition,
            changes={"finish_due": petition.finish_due, "reason": reason.strip()[:200]},
        )
        warn_calendar_gaps(clock.gaps)
    return petition


def petition_reply(*, petition: Petition, text: str, by: Any) -> PetitionReply:
    """A reply the petitioner sees on the query page."""
    if not text.strip():
        raise ValidationError({"text": _("Write the reply.")})
    with transaction.atomic():
        reply = PetitionReply(petition=petition, text=text.strip(), by=_user(by))
        reply.assign_school()
        reply.full_clean()
        reply.save()
        if petition.case_id:
            _timeline(petition.case, CaseAction.Kind.REPLY, text.strip(), by=by)  # type: ignore[arg-type]
            Case.objects.filter(pk=petition.case_id, first_response_at__isnull=True).update(
                first_response_at=timezone.now()
            )
        audit_record("cases.petition.replied", obj=petition, changes={"reply": reply.pk})
    return reply


def petition_finish(*, petition: Petition, by: Any, today: dt.date | None = None) -> Petition:
    today = today or timezone.localdate()
    if not petition.replies.exists():
        raise ValidationError(_("Reply to the petitioner before finishing the petition."))
    with transaction.atomic():
        won = Petition.objects.filter(pk=petition.pk, status=Petition.Status.ACCEPTED).update(
            status=Petition.Status.FINISHED, finished_on=today
        )
        if not won:
            raise ValidationError(_("Only an accepted petition can be finished."))
        petition.refresh_from_db()
        audit_record("cases.petition.finished", obj=petition, changes={"on": today})
    return petition


def petitions_remind(*, today: dt.date | None = None) -> int:
    """Remind before each limit (and once when it has passed), every school."""
    today = today or timezone.localdate()
    with all_schools():
        open_ones = list(
            Petition.unscoped.filter(
                status__in=[Petition.Status.RECEIVED, Petition.Status.ACCEPTED]
            ).values_list("pk", "school_id")
        )
    sent = 0
    for pk, school_id in open_ones:
        with school_scope(school_id):
            sent += petition_remind(petition_id=pk, today=today)
    return sent


def petition_remind(*, petition_id: int, today: dt.date) -> int:
    with transaction.atomic():
        petition = Petition.objects.select_for_update().filter(pk=petition_id).first()
        if petition is None:
            return 0
        due = petition.current_due()
        if due is None:
            return 0
        kind, date = due
        clock = Clock()
        policy = policy_for()
        remind_on = clock.subtract_workdays(date, policy.petition_remind_workdays)
        key = f"{kind}:late" if today > date else kind
        if today < remind_on or key in (petition.reminded or []):
            return 0
        Petition.objects.filter(pk=petition.pk).update(reminded=[*(petition.reminded or []), key])
        what = _("decide on acceptance") if kind == "accept" else _("finish")
        title = (
            _("Petition overdue: %(what)s was due %(date)s")
            if today > date
            else _("Petition: %(what)s by %(date)s")
        ) % {"what": what, "date": date.isoformat()}
        people: list[User] = []
        if petition.case_id:
            people = [a.user for a in CaseAssignee.objects.filter(case_id=petition.case_id)]
        if today > date or not people:
            people += routes.administrators(today)
        notify(
            people,
            title=f"{title} · {petition.subject}",
            body=case_url(petition.case) if petition.case_id else "",  # type: ignore[arg-type]
            level=Level.ORANGE if today > date else Level.YELLOW,
        )
        audit_record(
            "cases.petition.reminded",
            obj=petition,
            changes={"limit": kind, "due": date, "key": key},
        )
        warn_calendar_gaps(clock.gaps)
    return 1


# --------------------------------------------------------------------------- import


IMPORT_COLUMNS = {
    "reference": ("reference", "工单编号", "编号", "转办单号"),
    "received_on": ("received_on", "received", "受理日期", "收到日期", "日期", "转办日期"),
    "subject": ("subject", "标题", "主题", "事项"),
    "body": ("body", "内容", "诉求内容", "正文"),
    "name": ("name", "姓名", "来电人", "诉求人"),
    "contact": ("contact", "联系方式", "电话"),
    "channel": ("channel", "渠道", "来源"),
}
IMPORT_MAX_BYTES = 2 * 1024 * 1024
IMPORT_MAX_ROWS = 2000


@dataclass
class ImportResult:
    created: list[tuple[Petition, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # duplicates
    errors: list[str] = field(default_factory=list)  # "row 3: ..."


def _parse_date(raw: str) -> dt.date | None:
    raw = raw.strip().replace("/", "-").replace(".", "-")
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y年%m月%d日"):
        try:
            return dt.datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    return None


def _channel(raw: str) -> str:
    raw = raw.strip()
    if not raw or "12345" in raw or raw == Petition.Channel.HOTLINE:
        return Petition.Channel.HOTLINE
    if "信箱" in raw or raw == Petition.Channel.MAILBOX:
        return Petition.Channel.MAILBOX
    if "信访" in raw or "来信" in raw or raw == Petition.Channel.LETTER:
        return Petition.Channel.LETTER
    return Petition.Channel.OTHER


def petitions_import(*, data: bytes, by: Any) -> ImportResult:
    """Import hotline transfers from a CSV; good rows are kept, bad rows reported by number."""
    if len(data) > IMPORT_MAX_BYTES:
        raise ValidationError(_("The file is larger than 2 MB."))
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValidationError(_("The file is neither UTF-8 nor GB18030 text."))
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ValidationError(_("The file is empty."))
    header = [h.strip().lower() for h in rows[0]]
    where: dict[str, int] = {}
    for key, names in IMPORT_COLUMNS.items():
        for i, h in enumerate(header):
            if h in names:
                where[key] = i
                break
    missing = [k for k in ("received_on", "subject", "body") if k not in where]
    if missing:
        raise ValidationError(_("Missing columns: %(cols)s.") % {"cols": ", ".join(missing)})
    if len(rows) - 1 > IMPORT_MAX_ROWS:
        raise ValidationError(_("At most %(n)s rows at a time.") % {"n": IMPORT_MAX_ROWS})
    result = ImportResult()
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue

        def cell(key: str, row: list[str] = row) -> str:
            i = where.get(key)
            return row[i].strip() if i is not None and i < len(row) else ""

        received = _parse_date(cell("received_on"))
        if received is None:
            result.errors.append(_("row %(n)s: the date cannot be read.") % {"n": number})
            continue
        if not cell("subject") or not cell("body"):
            result.errors.append(_("row %(n)s: subject and content are required.") % {"n": number})
            continue
        reference = cell("reference")
        if reference and Petition.objects.filter(reference=reference).exists():
            result.skipped.append(reference)
            continue
        try:
            with transaction.atomic():
                result.created.append(
                    petition_receive(
                        intake=Intake(
                            channel=_channel(cell("channel")),
                            subject=cell("subject"),
                            body=cell("body"),
                            received_on=received,
                            name=cell("name"),
                            contact=cell("contact"),
                            reference=reference,
                        ),
                        by=by,
                    )
                )
        except ValidationError as exc:
            result.errors.append(f"{_('row')} {number}: {' '.join(exc.messages)}")
    audit_record(
        "cases.petition.imported",
        school_id=require_scope().writable,
        changes={
            "created": len(result.created),
            "skipped": len(result.skipped),
            "errors": len(result.errors),
        },
    )
    return result


# --------------------------------------------------------------------------- definitions


@transaction.atomic
def route_save(*, route: Route | None, name: str, kind: str, is_active: bool = True) -> Route:
    route = route or Route(sort_order=Route.objects.count())
    route.name = name.strip()
    route.kind = kind
    route.is_active = is_active
    route.assign_school()
    route.full_clean()
    route.save()
    return route


@transaction.atomic
def route_step_add(
    *, route: Route, label: str, role: str, org_unit: OrgUnit | None = None, unit_kind: str = ""
) -> Any:
    from yuqing.cases.models import RouteStep

    last = route.steps.order_by("-position").values_list("position", flat=True).first()
    step = RouteStep(
        route=route,
        position=0 if last is None else last + 1,
        label=label.strip(),
        role=role,
        org_unit=org_unit,
        unit_kind=unit_kind,
    )
    step.assign_school()
    step.full_clean()
    step.save()
    return step


@transaction.atomic
def route_step_delete(*, step: Any) -> None:
    route = step.route
    step.delete()
    # Close the gap so positions stay 0..n-1 (cases keep their index into this list).
    for position, other in enumerate(route.steps.order_by("position")):
        if other.position != position:
            type(other).objects.filter(pk=other.pk).update(position=position)


@transaction.atomic
def absence_add(*, user: User, starts_on: dt.date, ends_on: dt.date, note: str = "") -> Any:
    from yuqing.cases.models import Absence

    absence = Absence(user=user, starts_on=starts_on, ends_on=ends_on, note=note.strip())
    absence.assign_school()
    absence.full_clean()
    absence.save()
    return absence
