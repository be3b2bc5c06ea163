"""Writes of the reports module: generating, archiving, templates and the daily schedule."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from yuqing.accounts.models import School, User
from yuqing.audit.services import audit_record
from yuqing.lib import uploads
from yuqing.reports import charts as charts_mod
from yuqing.reports import compute
from yuqing.reports import docx as docx_mod
from yuqing.reports.models import Kind, Report, ReportTemplate

MAX_TEMPLATE_BYTES = 10 * 1024 * 1024
MAX_DAYS = {Kind.DAILY: 7, Kind.WEEKLY: 31, Kind.MONTHLY: 62, Kind.HALF_YEAR: 190}


def _store(folder: str, school_id: int, digest: str, data: bytes) -> str:
    name = f"{folder}/{school_id}/{digest[:2]}/{digest}.docx"
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(data))
    return name


def _title(kind: str, data: dict[str, Any], school: str) -> str:
    label = data["period"]["label"]
    names: dict[str, str] = {
        Kind.DAILY: _("Online public opinion daily report %(label)s"),
        Kind.WEEKLY: _("Online public opinion weekly report %(label)s"),
        Kind.MONTHLY: _("Online public opinion monthly report %(label)s"),
        Kind.HALF_YEAR: _("Special report on online ideology work, %(label)s"),
    }
    return f"{school} " + names[kind] % {"label": label}


def check_period(kind: str, start: dt.date, end: dt.date) -> None:
    if kind not in Kind.values:
        raise ValidationError({"kind": _("Unknown kind of report.")})
    if end < start:
        raise ValidationError({"end": _("The end cannot be before the start.")})
    if (end - start).days + 1 > MAX_DAYS[Kind(kind)]:
        raise ValidationError(
            {
                "end": _("This kind of report covers at most %(n)s days.")
                % {"n": MAX_DAYS[Kind(kind)]}
            }
        )


def _render(report: Report, school_name: str) -> bytes:
    data = report.data
    charts = charts_mod.charts_for(data)
    template = ReportTemplate.objects.filter(kind=report.kind, is_active=True).first()
    report.template = template
    if template is not None:
        with template.file.open("rb") as fh:
            tpl_bytes = fh.read()
        return docx_mod.build_from_template(
            template_bytes=tpl_bytes,
            data=data,
            title=report.title,
            school=school_name,
            next_steps=report.next_steps,
            charts=charts,
        )
    return docx_mod.build_default(
        data=data,
        title=report.title,
        school=school_name,
        next_steps=report.next_steps,
        charts=charts,
    )


def _attach_file(report: Report, school_name: str) -> None:
    content = _render(report, school_name)
    report.sha256 = hashlib.sha256(content).hexdigest()
    report.file.name = _store("reports", report.school_id, report.sha256, content)


def report_generate(
    *,
    kind: str,
    start: dt.date,
    end: dt.date,
    user: User | None = None,
    next_steps: str = "",
    automatic: bool = False,
    special_period: Any = None,
) -> Report:
    """Compute the numbers of ``kind`` over [start, end], write the DOCX, archive a version."""
    check_period(kind, start, end)
    report = Report(
        kind=kind,
        period_start=start,
        period_end=end,
        next_steps=next_steps,
        automatic=automatic,
        special_period=special_period,
        generated_by=user if getattr(user, "pk", None) else None,
    )
    report.assign_school()
    school = School.objects.get(pk=report.school_id)
    school_name = school.name
    report.data = compute.compute(kind, start, end)
    report.title = _title(kind, report.data, school_name)[:200]
    _attach_file(report, school_name)
    for _attempt in range(3):
        # Two people generating the same period at once: the unique version constraint
        # decides, and the loser takes the next number.
        last = Report.objects.filter(kind=kind, period_start=start, period_end=end).aggregate(
            v=Max("version")
        )["v"]
        report.version = (last or 0) + 1
        report.full_clean(validate_constraints=False)
        try:
            with transaction.atomic():
                report.save()
                audit_record(
                    "reports.report.generated",
                    obj=report,
                    changes={
                        "kind": kind,
                        "start": start,
                        "end": end,
                        "version": report.version,
                        "sha256": report.sha256,
                        "automatic": automatic,
                    },
                )
            return report
        except IntegrityError:
            report.pk = None
            continue
    raise ValidationError(_("Another report for this period is being saved; try again."))


def report_next_steps_update(*, report: Report, next_steps: str, user: User) -> Report:
    """The editor's "next steps": the numbers stay, the document is written again."""
    school_name = School.objects.get(pk=report.school_id).name
    with transaction.atomic():
        locked = Report.objects.select_for_update().get(pk=report.pk)
        before = locked.next_steps
        locked.next_steps = next_steps
        _attach_file(locked, school_name)
        locked.full_clean(validate_constraints=False)
        locked.save()
        audit_record(
            "reports.report.next_steps_edited",
            obj=locked,
            changes={"next_steps": [before[:500], next_steps[:500]], "sha256": locked.sha256},
        )
    return locked


def report_downloaded(*, report: Report) -> None:
    audit_record("reports.report.downloaded", obj=report, changes={"sha256": report.sha256})


# --------------------------------------------------------------------------- templates


def template_check(*, file: IO[bytes], filename: str) -> bytes:
    """A Word document (.docx) whose tags render with a sample report; else a clear error."""
    if not filename.lower().endswith(".docx"):
        raise ValidationError({"file": _("Upload a Word document (.docx).")})
    file.seek(0)
    data = file.read(MAX_TEMPLATE_BYTES + 1)
    if len(data) > MAX_TEMPLATE_BYTES:
        raise ValidationError({"file": _("The template is larger than 10 MB.")})
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if "word/document.xml" not in zf.namelist():
                raise zipfile.BadZipFile
    except zipfile.BadZipFile:
        raise ValidationError(
            {"file": _("The file's content is not a Word document (.docx).")}
        ) from None
    try:
        uploads.check_office_package(data, name=filename)
    except uploads.UploadRejected as exc:
        raise ValidationError({"file": exc.message}) from None
    sample = {
        "kind": "daily",
        "period": {"start": "2026-01-01", "end": "2026-01-01", "label": "2026-01-01"},
        "numbers": {},
        "tables": {},
        "lists": {"new": [], "growing": [], "alerts": [], "cases": []},
        "facts": {},
    }
    try:
        docx_mod.build_from_template(
            template_bytes=data, data=sample, title="", school="", next_steps="", charts=[]
        )
    except Exception as exc:  # a template's Jinja error of any kind is the uploader's to fix
        raise ValidationError(
            {"file": _("The template cannot be filled in: %(error)s") % {"error": str(exc)[:200]}}
        ) from None
    return data


@transaction.atomic
def template_upload(*, kind: str, name: str, data: bytes, user: User) -> ReportTemplate:
    ReportTemplate.objects.filter(kind=kind, is_active=True).update(is_active=False)
    digest = hashlib.sha256(data).hexdigest()
    template = ReportTemplate(
        kind=kind, name=name.strip() or kind, sha256=digest, size=len(data), uploaded_by=user
    )
    template.assign_school()
    template.file.name = _store("report-templates", template.school_id, digest, data)
    template.full_clean(validate_constraints=False)
    template.save()
    return template


def template_deactivate(*, template: ReportTemplate) -> None:
    won = ReportTemplate.objects.filter(pk=template.pk, is_active=True).update(is_active=False)
    if won:
        audit_record("reports.template.deactivated", obj=template)


# --------------------------------------------------------------------------- schedule


def daily_due(*, now: dt.datetime | None = None) -> list[Report]:
    """Make the daily reports due by ``now`` in the current school scope.

    A special period's day D gets its report at the period's configured time on D + 1 (the
    report covers the whole of day D). Each day is made once: a report already made for D,
    automatically or by hand, is not made again.
    """
    from yuqing.duty.models import SpecialPeriod

    now = timezone.localtime(now or timezone.now())
    day = now.date() - dt.timedelta(days=1)
    made: list[Report] = []
    for period in SpecialPeriod.objects.filter(starts_on__lte=day, ends_on__gte=day).order_by(
        "report_at", "pk"
    ):
        if now.time() < period.report_at:
            continue
        if Report.objects.filter(kind=Kind.DAILY, period_start=day, period_end=day).exists():
            break
        report = report_generate(
            kind=Kind.DAILY, start=day, end=day, automatic=True, special_period=period
        )
        _notify_readers(report)
        report_send(report=report, now=now)
        made.append(report)
        break
    return made


def _notify_readers(report: Report) -> None:
    """The in-app summary: the report's headline figures to everyone who may read reports."""
    from yuqing.accounts.models import RoleAssignment
    from yuqing.accounts.roles import CAPABILITIES
    from yuqing.alerts.models import Level
    from yuqing.alerts.services import notification_send

    roles = [str(r) for r in CAPABILITIES["reports.view"]]
    ids = RoleAssignment.objects.filter(role__in=roles).values_list("user_id", flat=True)
    n = {k: v["value"] for k, v in report.data.get("numbers", {}).items()}
    body = _(
        "Mentions %(m)s, negative %(neg)s, new events %(e)s, alerts %(a)s. Open the report to "
        "add the next steps."
    ) % {
        "m": n.get("mentions", 0),
        "neg": n.get("negative", 0),
        "e": n.get("events_new", 0),
        "a": n.get("alerts", 0),
    }
    notification_send(
        sorted(ids), title=report.title, body=body, level=Level.BLUE, school_id=report.school_id
    )


# --------------------------------------------------------------------------- delivery

SUMMARY_EVENTS = 5


def report_channels(kind: str) -> list[Any]:
    """The enabled alert channels the school has chosen to receive reports of ``kind``."""
    from yuqing.reports.models import ReportChannel

    return [
        rc.channel
        for rc in ReportChannel.objects.select_related("channel").order_by("channel__name")
        if kind in (rc.kinds or []) and rc.channel.enabled
    ]


@transaction.atomic
def report_channels_save(*, kinds_by_channel: dict[Any, list[str]]) -> None:
    """Which channel receives which kinds of report: ``{channel: [kind, …]}`` for the school."""
    from yuqing.reports.models import ReportChannel

    for channel, kinds in kinds_by_channel.items():
        wanted = sorted({str(k) for k in kinds if k in Kind.values})
        row = ReportChannel.objects.filter(channel=channel).first()
        if row is None:
            if not wanted:
                continue
            row = ReportChannel(channel=channel)
            row.assign_school()
        elif row.kinds == wanted:
            continue
        row.kinds = wanted
        row.full_clean(validate_constraints=False)
        row.save()  # audited (the model is @audited)


def summary_payload(report: Report, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The report's headline figures and new events as the alerts' ``Message`` fields."""
    from django.conf import settings
    from django.urls import reverse

    now = now or timezone.now()
    n = {k: v["value"] for k, v in report.data.get("numbers", {}).items()}
    summary = _(
        "Mentions %(m)s, negative %(neg)s, at yellow risk or above %(risky)s; new events %(e)s; "
        "alerts raised %(a)s, of which handled %(h)s."
    ) % {
        "m": n.get("mentions", 0),
        "neg": n.get("negative", 0),
        "risky": n.get("risky", 0),
        "e": n.get("events_new", 0),
        "a": n.get("alerts", 0),
        "h": n.get("alerts_handled", 0),
    }
    lines = []
    lists = report.data.get("lists", {})
    for e in (lists.get("new") or [])[:SUMMARY_EVENTS]:
        lines.append(
            _("New event: %(title)s (%(n)s mentions, %(risk)s)")
            % {"title": e["title"], "n": e["mentions"], "risk": e["risk"]}
        )
    for e in (lists.get("growing") or [])[:SUMMARY_EVENTS]:
        lines.append(
            _("Growing: %(title)s (+%(n)s mentions)") % {"title": e["title"], "n": e["mentions"]}
        )
    if "cases_open" in n:
        lines.append(_("Cases open at the end: %(n)s") % {"n": n["cases_open"]})
    if report.next_steps:
        lines.append(_("Next steps: %(text)s") % {"text": report.next_steps})
    school = School.objects.filter(pk=report.school_id).values_list("name", flat=True).first()
    attachments = []
    if report.file:
        attachments.append(
            [
                report.filename,
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                report.file.path,
            ]
        )
    return {
        "level": 1,
        "label": str(Kind(report.kind).label),
        "title": report.title,
        "summary": summary,
        "url": settings.SITE_URL.rstrip("/") + reverse("reports:detail", args=[report.pk]),
        "lines": [str(x) for x in lines],
        "school": school or "",
        "event": "",
        "created_at": now.isoformat(),
        "id": f"report-{report.pk}",
        "test": False,
        "timezone": settings.TIME_ZONE,
        "attachments": attachments,
    }


def report_send(*, report: Report, now: dt.datetime | None = None) -> list[Any]:
    """Queue the report's summary to each channel chosen for its kind (DOCX attached to e-mail).

    Sent by the alerts' delivery worker, so retries, the order per channel and the delivery log
    are the alerts' own; an e-mail channel gets the DOCX, a robot the summary and a link.
    """
    from yuqing.alerts import tasks as alert_tasks
    from yuqing.alerts.models import Channel, Delivery

    now = now or timezone.now()
    channels = report_channels(report.kind)
    if not channels:
        return []
    payload = summary_payload(report, now=now)
    robot_payload = {**payload, "attachments": []}
    with transaction.atomic():
        rows = Delivery.objects.bulk_create(
            Delivery(
                school_id=report.school_id,
                channel=channel,
                # A scheduled summary: the alerts' "digest" purpose is the nearest kind.
                purpose=Delivery.Purpose.DIGEST,
                payload=payload if channel.kind == Channel.Kind.EMAIL else robot_payload,
                next_attempt_at=now,
                created_at=now,
            )
            for channel in channels
        )
        audit_record(
            "reports.report.sent",
            obj=report,
            changes={"channels": [c.name for c in channels], "deliveries": [d.pk for d in rows]},
        )
        transaction.on_commit(alert_tasks.deliver_now)
    return rows
