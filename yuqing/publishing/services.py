"""Writes of the publishing module other than the review itself (that is ``workflow.py``):
check settings, drafts and revisions, attachments, checks and overrides, publication records,
the tamper watch and signature verification.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from yuqing.accounts.models import OrgUnit, RoleAssignment, User
from yuqing.accounts.roles import Role
from yuqing.audit.services import audit_record
from yuqing.core.tenancy import all_schools, school_scope
from yuqing.publishing import checks, content, live, signing
from yuqing.publishing.models import (
    Attachment,
    Channel,
    CheckRun,
    CheckSettings,
    Draft,
    FindingOverride,
    Publication,
    Review,
    Revision,
    Signature,
    StepState,
)

WATCH_LEASE = dt.timedelta(minutes=5)
RETRY_AFTER_ERROR = dt.timedelta(minutes=15)


# --------------------------------------------------------------------------- check settings


def settings_for(school_id: int) -> CheckSettings:
    """The school's lists (its own entries on top of the project's seeded lists)."""
    found = CheckSettings.objects.filter(school_id=school_id).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return CheckSettings.objects.create(school_id=school_id)
    except IntegrityError:
        return CheckSettings.objects.get(school_id=school_id)


def _clean_words(words: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for word in words:
        word = word.strip()
        if word:
            seen.setdefault(word[:100], None)
    return list(seen)


def _clean_pairs(pairs: Iterable[tuple[str, str] | list[str]], name: str) -> list[list[str]]:
    out: list[list[str]] = []
    for pair in pairs:
        wrong, right = (p.strip() for p in pair)
        if not wrong:
            continue
        if wrong == right:
            raise ValidationError(
                {name: _("“%(word)s” is listed with itself as the correction.") % {"word": wrong}}
            )
        out.append([wrong[:100], right[:100]])
    return out


def _clean_hosts(hosts: Iterable[str]) -> list[str]:
    out: list[str] = []
    for raw in hosts:
        host = raw.strip().lower().rstrip(".")
        if not host:
            continue
        if "/" in host or " " in host or ":" in host.strip("[]").replace("::", ""):
            raise ValidationError(
                {
                    "watch_hosts": _("Enter host names only, e.g. www.school.edu.cn: %(h)s")
                    % {"h": raw}
                }
            )
        out.append(host)
    return sorted(set(out))


def _clean_listings(entries: Iterable[str], hosts: set[str]) -> list[str]:
    """ "URL" or "URL CSS-selector" per entry, each on one of the school's own hosts."""
    out: list[str] = []
    for raw in entries:
        url, _sep, selector = raw.strip().partition(" ")
        if not url:
            continue
        if not url.lower().startswith(("http://", "https://")) or not live.host_of(url):
            raise ValidationError(
                {"watch_listings": _("Enter an http or https address: %(u)s") % {"u": raw}}
            )
        if live.host_of(url) not in hosts:
            raise ValidationError(
                {"watch_listings": _("%(u)s is not on one of the school's own sites.") % {"u": url}}
            )
        out.append(f"{url} {selector.strip()}".strip())
    return list(dict.fromkeys(out))


def settings_update(
    *,
    school_id: int,
    forbidden_words: Iterable[str],
    formulations: Iterable[tuple[str, str] | list[str]],
    confusions: Iterable[tuple[str, str] | list[str]],
    watch_hosts: Iterable[str],
    watch_minutes: int,
    leaders: dict[str, list[str]] | None = None,
    use_seeded: bool = True,
    watch_listings: Iterable[str] | None = None,
) -> CheckSettings:
    row = settings_for(school_id)
    row.use_seeded = use_seeded
    row.leaders = {
        name.strip(): [t.strip() for t in titles if t.strip()]
        for name, titles in (leaders or {}).items()
        if name.strip() and any(t.strip() for t in titles)
    }
    row.forbidden_words = _clean_words(forbidden_words)
    row.formulations = _clean_pairs(formulations, "formulations")
    row.confusions = _clean_pairs(confusions, "confusions")
    row.watch_hosts = _clean_hosts(watch_hosts)
    if not 5 <= int(watch_minutes) <= 7 * 24 * 60:
        raise ValidationError({"watch_minutes": _("Enter minutes from 5 to 10080.")})
    row.watch_minutes = int(watch_minutes)
    if watch_listings is not None:
        row.watch_listings = _clean_listings(
            watch_listings, set(row.watch_hosts) | _registered_hosts(school_id)
        )
    row.full_clean()
    row.save()
    return row


def lists_for(school_id: int, *, check_links: bool = False) -> checks.Lists:
    row = settings_for(school_id)
    return checks.Lists(
        forbidden_words=list(row.forbidden_words or []),
        formulations=[list(p) for p in row.formulations or []],
        confusions=[list(p) for p in row.confusions or []],
        leaders={k: list(v) for k, v in (row.leaders or {}).items()},
        link_hosts=list(row.watch_hosts or []),
        use_seeded=row.use_seeded,
        check_links=check_links,
    )


# --------------------------------------------------------------------------- drafts


def can_edit(user: User, draft: Draft) -> bool:
    return draft.author_id == user.pk or user.can("publishing.review")


def _clean_channels(channels: Iterable[str]) -> list[str]:
    chosen = [c for c in Channel.values if c in set(channels)]
    if not chosen:
        raise ValidationError({"channels": _("Choose at least one channel.")})
    return chosen


def _revision_hash(revision: Revision) -> str:
    return content.content_hash(
        title=revision.title,
        body=revision.body,
        channels=revision.channels,
        attachments=revision.attachments,
    )


def _new_revision(draft: Draft, user: User) -> Revision:
    attachments = list(draft.attachment_set.order_by("id").values_list("sha256", flat=True))
    number = (draft.revisions.aggregate(n=Max("number"))["n"] or 0) + 1
    revision = Revision(
        school_id=draft.school_id,
        draft=draft,
        number=number,
        title=draft.title,
        body=draft.body,
        text=draft.text,
        channels=list(draft.channels),
        attachments=attachments,
        created_by=user,
    )
    revision.content_hash = _revision_hash(revision)
    revision.full_clean()
    revision.save()
    Draft.objects.filter(pk=draft.pk).update(current_revision=revision)
    draft.current_revision = revision
    return revision


def draft_create(
    *,
    author: User,
    title: str,
    body: str,
    channels: Iterable[str],
    department: OrgUnit | None = None,
    case_id: int | None = None,
) -> Draft:
    """A new draft and its first revision. Cases call this for responses (with ``case_id``)."""
    clean = content.sanitize_body(body)
    draft = Draft(
        title=title.strip(),
        body=clean,
        text=content.html_to_text(clean),
        channels=_clean_channels(channels),
        author=author,
        department=department,
        case_id=case_id,
    )
    draft.assign_school()
    draft.full_clean()
    with transaction.atomic():
        draft.save()
        _new_revision(draft, author)
        audit_record("publishing.draft.created", obj=draft, changes={"case_id": case_id})
    return draft


def _invalidate_reviews(draft: Draft, user: User, reason: str) -> int:
    """Approvals were for other content: end the live review and void its sign-offs."""
    live = Review.objects.filter(
        draft=draft,
        status__in=[Review.Status.IN_PROGRESS, Review.Status.APPROVED],
    )
    count = 0
    for review in live:
        voided = StepState.objects.filter(
            review=review, status__in=[StepState.Status.IN_PROGRESS, StepState.Status.APPROVED]
        ).update(status=StepState.Status.INVALIDATED)
        Review.objects.filter(pk=review.pk).update(
            status=Review.Status.INVALIDATED, finished_at=timezone.now()
        )
        audit_record(
            "publishing.review.invalidated",
            obj=draft,
            changes={"review": review.pk, "step_states": voided, "reason": reason},
        )
        count += 1
    return count


def draft_save(
    *,
    draft: Draft,
    user: User,
    title: str,
    body: str,
    channels: Iterable[str],
    department: OrgUnit | None = None,
) -> Draft:
    """Save an edit as a new revision; an edit to approved or reviewed text voids approvals."""
    if not can_edit(user, draft):
        raise ValidationError(_("Only the author or a reviewer may edit this draft."))
    clean = content.sanitize_body(body)
    with transaction.atomic():
        locked = Draft.objects.select_for_update().get(pk=draft.pk)
        locked.title = title.strip()
        locked.body = clean
        locked.text = content.html_to_text(clean)
        locked.channels = _clean_channels(channels)
        locked.department = department
        locked.full_clean()
        before = locked.current_revision
        new_hash = content.content_hash(
            title=locked.title,
            body=locked.body,
            channels=locked.channels,
            attachments=locked.attachment_set.order_by("id").values_list("sha256", flat=True),
        )
        if before is not None and before.content_hash == new_hash:
            locked.save()
            return locked  # nothing changed: no revision, approvals stand
        if locked.status in (
            Draft.Status.IN_REVIEW,
            Draft.Status.APPROVED,
            Draft.Status.PUBLISHED,
            Draft.Status.REJECTED,
        ):
            _invalidate_reviews(locked, user, "edited")
            locked.status = Draft.Status.DRAFT
        locked.save()
        revision = _new_revision(locked, user)
        audit_record(
            "publishing.draft.edited",
            obj=locked,
            changes={"revision": revision.number, "content_sha256": revision.content_hash},
        )
    return locked


# --------------------------------------------------------------------------- attachments


def _store(data: bytes, sha: str, extension: str) -> str:
    relative = Path("publishing") / sha[:2] / f"{sha}.{extension}"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(target)
    return str(relative)


def attachment_add(*, draft: Draft, user: User, name: str, data: bytes) -> Attachment:
    """Store an image or document checked by content and size; the edit makes a revision."""
    if not can_edit(user, draft):
        raise ValidationError(_("Only the author or a reviewer may edit this draft."))
    try:
        kind = content.check_upload(data)
    except content.FileRefused as exc:
        if str(exc) == "size":
            raise ValidationError(
                {"file": _("The file is too large (images up to 5 MB, documents up to 20 MB).")}
            ) from None
        raise ValidationError(
            {
                "file": _(
                    "Only images (PNG, JPEG, GIF, WebP) and documents (DOCX, XLSX, PDF) can be "
                    "attached; this file is none of them, whatever its name says."
                )
            }
        ) from None
    sha = hashlib.sha256(data).hexdigest()
    safe_name = Path(name or "file").name[:150] or "file"
    stem = safe_name.rsplit(".", 1)[0] if "." in safe_name else safe_name
    display = f"{stem}.{kind.extension}"
    text = content.extract_document_text(data, display)[:200_000] if kind.kind == "document" else ""
    with transaction.atomic():
        attachment = Attachment(
            school_id=draft.school_id,
            draft=draft,
            kind=kind.kind,
            name=display,
            content_type=kind.content_type,
            size=len(data),
            sha256=sha,
            path=_store(data, sha, kind.extension),
            text=text,
            uploaded_by=user,
        )
        attachment.full_clean()
        attachment.save()
        audit_record(
            "publishing.attachment.added",
            obj=draft,
            changes={"name": display, "sha256": sha, "size": len(data)},
        )
        _after_attachment_change(draft, user)
    return attachment


def attachment_remove(*, attachment: Attachment, user: User) -> None:
    draft = attachment.draft
    if not can_edit(user, draft):
        raise ValidationError(_("Only the author or a reviewer may edit this draft."))
    with transaction.atomic():
        audit_record(
            "publishing.attachment.removed",
            obj=draft,
            changes={"name": attachment.name, "sha256": attachment.sha256},
        )
        attachment.delete()
        _after_attachment_change(draft, user)


def _after_attachment_change(draft: Draft, user: User) -> None:
    fresh = Draft.objects.get(pk=draft.pk)
    draft_save(
        draft=fresh,
        user=user,
        title=fresh.title,
        body=fresh.body,
        channels=fresh.channels,
        department=fresh.department,
    )


def attachment_file(attachment: Attachment) -> Path:
    return Path(settings.MEDIA_ROOT) / attachment.path


# --------------------------------------------------------------------------- checks


def _parts(draft: Draft, revision: Revision) -> list[tuple[str, str]]:
    parts = [("title", revision.title), ("body", revision.text)]
    for attachment in draft.attachment_set.filter(kind=Attachment.Kind.DOCUMENT):
        parts.append((f"attachment:{attachment.name}", attachment.text))
    return parts


def checks_run(*, draft: Draft, stage: str) -> CheckRun:
    """Check the current revision and keep the result; blocking findings count unless
    a reviewer overrode that very finding with a reason."""
    revision = draft.current_revision
    if revision is None:
        raise ValidationError(_("The draft has no saved text yet."))
    found = checks.check_parts(
        _parts(draft, revision), lists_for(draft.school_id, check_links=True)
    )
    overridden = set(FindingOverride.objects.filter(draft=draft).values_list("key", flat=True))
    rows = []
    unresolved = 0
    for finding in found:
        row = finding.as_dict()
        row["overridden"] = finding.key in overridden
        if finding.severity == "block" and not row["overridden"]:
            unresolved += 1
        rows.append(row)
    run = CheckRun(
        school_id=draft.school_id,
        revision=revision,
        stage=stage,
        findings=rows,
        blocking=sum(1 for f in found if f.severity == "block"),
        unresolved=unresolved,
        engine="proofread",
    )
    run.full_clean()
    run.save()
    return run


def latest_checks(draft: Draft) -> CheckRun | None:
    if draft.current_revision_id is None:
        return None
    return CheckRun.objects.filter(revision_id=draft.current_revision_id).first()


def finding_override(*, draft: Draft, user: User, key: str, reason: str) -> FindingOverride:
    """A reviewer lets a blocking finding stand; the reason is kept and audited."""
    if not user.can("publishing.review"):
        raise ValidationError(_("Only a reviewer may override a finding."))
    reason = reason.strip()
    if len(reason) < 4:
        raise ValidationError({"reason": _("Say why this finding may stand.")})
    run = latest_checks(draft)
    match = next((f for f in (run.findings if run else []) if f.get("key") == key), None)
    if match is None:
        raise ValidationError(_("That finding is not in the latest check of this draft."))
    override = FindingOverride(
        school_id=draft.school_id,
        draft=draft,
        key=key,
        kind=match["kind"],
        text=str(match["text"])[:300],
        reason=reason,
        by=user,
    )
    override.full_clean(validate_constraints=False)
    with transaction.atomic():
        try:
            with transaction.atomic():
                override.save()
        except IntegrityError:
            raise ValidationError(_("This finding was already overridden.")) from None
        audit_record(
            "publishing.finding.overridden",
            obj=draft,
            changes={"kind": match["kind"], "text": match["text"], "reason": reason},
        )
        checks_run(draft=draft, stage=run.stage if run else CheckRun.Stage.DRAFT)
    return override


# --------------------------------------------------------------------------- publication


def _case_published(draft_id: int, url: str, user: User | None) -> None:
    """Close the loop on the case the response was drafted in."""
    from yuqing.cases.services import case_response_published

    draft = Draft.objects.select_related("case").get(pk=draft_id)
    if draft.case is not None:
        case_response_published(case=draft.case, url=url, by=user)


def publication_record(
    *,
    draft: Draft,
    user: User | None,
    channel: str,
    url: str,
    published_at: dt.datetime | None = None,
    found_by: str = Publication.FoundBy.HAND,
    similarity: float | None = None,
    found_on: str = "",
) -> Publication:
    """Where the signed text went live (entered, or found by the site watch with ``user``
    None); the tamper watch starts from here."""
    if draft.status not in (Draft.Status.APPROVED, Draft.Status.PUBLISHED):
        raise ValidationError(_("Only a signed-off draft can be recorded as published."))
    if channel not in Channel.values:
        raise ValidationError({"channel": _("Choose a channel.")})
    revision = draft.current_revision
    assert revision is not None
    host_ok = _host_registered(draft.school_id, url)
    publication = Publication(
        school_id=draft.school_id,
        draft=draft,
        revision=revision,
        channel=channel,
        url=url.strip(),
        published_at=published_at or timezone.now(),
        recorded_by=user,
        found_by=found_by,
        similarity=similarity,
        found_on=found_on,
        watch_status=(
            Publication.WatchStatus.PENDING if host_ok else Publication.WatchStatus.NOT_WATCHED
        ),
    )
    publication.full_clean(validate_constraints=False)
    if not publication.url.lower().startswith(("http://", "https://")):
        raise ValidationError({"url": _("Enter an http or https address.")})
    with transaction.atomic():
        try:
            with transaction.atomic():
                publication.save()
        except IntegrityError:
            raise ValidationError({"url": _("This address is already recorded.")}) from None
        Draft.objects.filter(pk=draft.pk).update(status=Draft.Status.PUBLISHED)
        audit_record(
            "publishing.draft.published",
            obj=draft,
            changes={
                "url": publication.url,
                "channel": channel,
                "revision": revision.number,
                "found_by": found_by,
                **({"similarity": round(similarity, 3)} if similarity is not None else {}),
            },
        )
        if draft.case_id:
            _case_published(draft.pk, publication.url, user)
    return publication


def school_hosts(school_id: int) -> set[str]:
    """The hosts of the school's own sites: those in the check settings, those of the monitor's
    sources marked as the school's own site, and the websites and domains of the security
    register (台账). Only these are fetched."""
    return set(settings_for(school_id).watch_hosts or []) | _registered_hosts(school_id)


def _registered_hosts(school_id: int) -> set[str]:
    """The school's own hosts as registered outside publishing (monitor, security)."""
    from yuqing.monitor.models import Source
    from yuqing.security.models import Asset

    own = Source.objects.filter(school_id=school_id, is_own=True).exclude(url="")
    hosts = {live.host_of(url) for url in own.values_list("url", flat=True)}
    assets = Asset.objects.filter(
        school_id=school_id, kind__in=[Asset.Kind.WEBSITE, Asset.Kind.DOMAIN]
    )
    hosts.update(asset.target_host for asset in assets.only("url", "host", "kind"))
    return hosts - {""}


def _host_registered(school_id: int, url: str) -> bool:
    return live.host_of(url) in school_hosts(school_id)


# --------------------------------------------------------------------------- tamper watch


@dataclass
class WatchReport:
    checked: int = 0
    matched: int = 0
    changed: int = 0
    errors: int = 0


def _claim(pk: int, now: dt.datetime) -> bool:
    # Conditional UPDATE: of several workers only one takes a page per round.
    return bool(
        Publication.objects.filter(pk=pk, next_check_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + WATCH_LEASE)
    )


def publications_watch_due(*, now: dt.datetime | None = None, limit: int = 50) -> WatchReport:
    now = now or timezone.now()
    report = WatchReport()
    templates: dict[str, frozenset[str] | None] = {}
    with all_schools():
        due = list(
            Publication.objects.filter(next_check_at__lte=now)
            .order_by("next_check_at")
            .values_list("pk", "school_id")[:limit]
        )
    for pk, school_id in due:
        with school_scope(school_id):
            if not _claim(pk, now):
                continue
            status = publication_check(publication_id=pk, now=now, templates=templates)
        report.checked += 1
        if status == Publication.WatchStatus.MATCHES:
            report.matched += 1
        elif status == Publication.WatchStatus.CHANGED:
            report.changed += 1
        else:
            report.errors += 1
    return report


def publication_check(
    *,
    publication_id: int,
    now: dt.datetime | None = None,
    templates: dict[str, frozenset[str] | None] | None = None,
) -> str:
    """Fetch the live page, compare its text with the signed revision, alert on a change.

    ``templates`` caches each site's template lines for one round of checks.
    """
    now = now or timezone.now()
    publication = Publication.objects.select_related("revision", "draft").get(pk=publication_id)
    every = dt.timedelta(minutes=settings_for(publication.school_id).watch_minutes)
    if not _host_registered(publication.school_id, publication.url):
        status, error, diff = Publication.WatchStatus.NOT_WATCHED, "", ""
        next_at = now + every
    else:
        observed, error = live.fetch_text(publication.url)
        if observed is None:
            status, diff, next_at = Publication.WatchStatus.ERROR, "", now + RETRY_AFTER_ERROR
        else:
            templates = {} if templates is None else templates
            home = live.home_url(publication.url)
            if home not in templates:
                templates[home] = live.template_lines(publication.url)
            template = templates[home]
            seen = live.compare_with_signed(
                observed,
                signed=publication.revision.text,
                title=publication.revision.title,
                template=template or frozenset(),
            )
            if template is None and seen.added and not seen.removed:
                # Extra lines, and the home page that tells the site's menu and footer from
                # added text could not be read: no verdict (and no false alarm) this round.
                status, diff, next_at = Publication.WatchStatus.ERROR, "", now + RETRY_AFTER_ERROR
                error = (
                    "the site's home page could not be read to tell its template from added text"
                )
            elif seen.matches:
                status, diff, next_at = Publication.WatchStatus.MATCHES, "", now + every
            else:
                status, next_at = Publication.WatchStatus.CHANGED, now + every
                diff = content.unified(
                    publication.revision.text,
                    seen.relevant,
                    old_name=_("signed"),
                    new_name=_("live page"),
                )
                _raise_tamper_alert(publication, seen.relevant, diff, now)
    Publication.objects.filter(pk=publication.pk).update(
        watch_status=status,
        last_checked_at=now,
        next_check_at=next_at,
        lease_until=None,
        last_error=error,
        last_diff=diff,
    )
    return status


def _raise_tamper_alert(
    publication: Publication, observed: str, diff: str, now: dt.datetime
) -> None:
    from yuqing.alerts.models import Alert, Level
    from yuqing.alerts.services import notification_send

    seen_hash = hashlib.sha256(content.normalize_for_compare(observed).encode()).hexdigest()
    key = f"publishing.tamper.{publication.pk}.{seen_hash[:16]}"
    title = _("Published page changed after sign-off: %(title)s") % {
        "title": publication.draft.title
    }
    reason = _("%(url)s no longer shows the text that was signed (revision %(n)s).") % {
        "url": publication.url,
        "n": publication.revision.number,
    }
    with transaction.atomic():
        existing = Alert.objects.filter(key=key, level=Level.ORANGE).first()
        if existing is not None:
            # The same changed text again: one alert, counted, not a new one every round.
            Alert.objects.filter(pk=existing.pk).update(
                repeat_count=F("repeat_count") + 1, last_seen_at=now
            )
            return
        alert = Alert.objects.create(
            school_id=publication.school_id,
            key=key,
            level=Level.ORANGE,
            title=title[:300],
            reason=reason,
            changes=diff,
            snapshot={"publication": publication.pk, "url": publication.url},
            created_at=now,
            last_seen_at=now,
        )
        security = RoleAssignment.objects.filter(role=Role.SECURITY).values_list(
            "user_id", flat=True
        )
        people = set(security) | {publication.draft.author_id}
        notification_send(
            sorted(people), title=title, body=f"{reason}\n\n{diff}", level=Level.ORANGE, alert=alert
        )
        audit_record(
            "publishing.publication.tampered",
            obj=publication.draft,
            changes={"url": publication.url, "alert": alert.pk},
        )


# --------------------------------------------------------------------------- verification


@dataclass
class VerifyReport:
    signatures: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def signatures_verify() -> VerifyReport:
    """Check every signature, every signed revision and every signed-off draft's content."""
    report = VerifyReport()
    with all_schools():
        for sig in Signature.objects.select_related("revision").order_by("id").iterator():
            report.signatures += 1
            where = f"signature {sig.pk} (draft {sig.revision.draft_id}, revision {sig.revision.number}, {sig.signer_name})"
            if not signing.verify(
                statement=sig.statement, signature=sig.signature, public_key=sig.public_key
            ):
                report.problems.append(f"{where}: the signature does not verify")
                continue
            if signing.statement_hash(sig.statement) != sig.content_hash:
                report.problems.append(f"{where}: the stored hash differs from the signed one")
            if _revision_hash(sig.revision) != sig.content_hash:
                report.problems.append(f"{where}: the revision's content was changed after signing")
        signed_drafts = Draft.objects.filter(
            status__in=[Draft.Status.APPROVED, Draft.Status.PUBLISHED]
        ).select_related("current_revision")
        for draft in signed_drafts.iterator():
            review = (
                Review.objects.filter(draft=draft, status=Review.Status.APPROVED)
                .order_by("-id")
                .first()
            )
            last = (
                Signature.objects.filter(step_state__review=review).order_by("-signed_at").first()
                if review
                else None
            )
            current = draft.current_revision
            if last is None or current is None:
                report.problems.append(
                    f"draft {draft.pk} “{draft.title}”: signed off with no signature"
                )
                continue
            draft_hash = content.content_hash(
                title=draft.title,
                body=draft.body,
                channels=draft.channels,
                attachments=draft.attachment_set.order_by("id").values_list("sha256", flat=True),
            )
            if draft_hash != last.content_hash or _revision_hash(current) != last.content_hash:
                report.problems.append(
                    f"draft {draft.pk} “{draft.title}”: content no longer matches what was signed"
                )
            for attachment in draft.attachment_set.all():
                path = attachment_file(attachment)
                if (
                    not path.exists()
                    or hashlib.sha256(path.read_bytes()).hexdigest() != attachment.sha256
                ):
                    report.problems.append(
                        f"draft {draft.pk} “{draft.title}”: attachment {attachment.name} changed or missing"
                    )
    return report


def pending_for(user: User) -> Any:
    """Step states waiting for someone like ``user`` (used by the list and the overview)."""
    from yuqing.publishing.workflow import may_act

    waiting = StepState.objects.filter(
        status=StepState.Status.IN_PROGRESS, review__status=Review.Status.IN_PROGRESS
    ).select_related("step", "review__draft", "review__flow")
    return [s for s in waiting if may_act(user, s.step)]
