"""The audit log: what is recorded, the hash chain, tamper detection, purge, viewer and export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from typing import Any

import pytest
import time_machine
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.conftest import PASSWORD, make_user
from yuqing.accounts import services
from yuqing.accounts.models import OrgUnit, RoleAssignment
from yuqing.audit.models import AppendOnlyError, AuditChainHead, AuditEntry
from yuqing.audit.services import audit_purge, audit_record, audit_verify
from yuqing.core.context import Actor, acting_as
from yuqing.core.tenancy import all_schools, school_scope

UA = "Mozilla/5.0 (test)"


def entries(**filters: Any) -> list[AuditEntry]:
    return list(AuditEntry.unscoped.filter(**filters).order_by("chain", "seq"))


def last(action: str) -> AuditEntry:
    entry = AuditEntry.unscoped.filter(action=action).order_by("-id").first()
    assert entry is not None, f"no {action} entry"
    return entry


def web(ip: str = "10.1.2.3") -> Client:
    return Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=UA)


def raw_sql(sql: str, params: list[Any]) -> None:
    """Tamper the way an intruder with database access would: bypassing the ORM entirely."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# --- What is recorded ------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_records_login_and_logout_with_who_when_and_where(people: dict[str, Any]) -> None:
    alice = people["admin"]
    client = web()
    before = timezone.now()
    response = client.post(reverse("accounts:login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    login = last("accounts.login")
    assert (login.actor_id, login.actor_label, login.ip, login.user_agent) == (
        alice.pk,
        "alice",
        "10.1.2.3",
        UA,
    )
    assert login.school_id == alice.school_id
    assert login.at >= before

    client.post(reverse("accounts:logout"))
    logout = last("accounts.logout")
    assert (logout.actor_id, logout.ip) == (alice.pk, "10.1.2.3")


@pytest.mark.django_db
def test_it_records_a_failed_login_in_the_schools_chain(
    people: dict[str, Any], school: Any
) -> None:
    web("10.9.9.9").post(reverse("accounts:login"), {"username": "alice", "password": "wrong"})
    failed = last("accounts.login_failed")
    assert failed.actor_id is None and failed.actor_label == "anonymous"
    assert (failed.ip, failed.object_repr, failed.school_id) == ("10.9.9.9", "alice", school.pk)
    assert failed.changes == {"username": "alice"}
    assert "wrong" not in str(failed.changes)  # never the password tried

    web().post(reverse("accounts:login"), {"username": "nobody", "password": "x"})
    assert last("accounts.login_failed").school_id is None  # unknown names: the system chain


@pytest.mark.django_db
def test_it_records_create_change_and_delete_with_what_changed(
    people: dict[str, Any], school: Any
) -> None:
    alice = people["admin"]
    with acting_as(Actor(user=alice, ip="10.0.0.5")), school_scope(school):
        unit = services.org_unit_create(school=school, name="政教处")
        services.org_unit_update(unit=unit, name="德育处", kind="office", parent=None)
        unit_pk = unit.pk
        services.org_unit_delete(unit=unit)

    created, changed, deleted = (
        last(f"accounts.orgunit.{v}") for v in ("created", "changed", "deleted")
    )
    for entry in (created, changed, deleted):
        assert (entry.actor_id, entry.ip, entry.school_id) == (alice.pk, "10.0.0.5", school.pk)
        assert entry.object_type == "accounts.orgunit" and entry.object_id == str(unit_pk)
    assert created.changes["name"] == [None, "政教处"]
    assert changed.changes == {"name": ["政教处", "德育处"]}
    assert deleted.changes["name"] == ["德育处", None]
    assert deleted.object_repr == "德育处"


@pytest.mark.django_db
def test_it_records_permission_changes_made_in_the_settings_pages(
    people: dict[str, Any], school: Any
) -> None:
    alice, tang = people["admin"], people["staff"]
    client = web("10.0.0.7")
    client.force_login(alice)
    response = client.post(reverse("accounts:role_add", args=[tang.pk]), {"role": "reviewer"})
    assert response.status_code == 302
    granted = last("accounts.permission.granted")
    assert (granted.actor_id, granted.ip, granted.school_id) == (alice.pk, "10.0.0.7", school.pk)
    assert granted.changes["role"] == [None, "reviewer"]
    assert granted.changes["user"] == [None, tang.pk]
    assert "审核领导 Tang" in granted.object_repr or "Tang" in granted.object_repr

    assignment = RoleAssignment.unscoped.get(user=tang, role="reviewer")
    client.post(reverse("accounts:role_remove", args=[tang.pk, assignment.pk]))
    revoked = last("accounts.permission.revoked")
    assert revoked.changes["role"] == ["reviewer", None]
    assert revoked.actor_id == alice.pk
    assert not RoleAssignment.unscoped.filter(pk=assignment.pk).exists()


@pytest.mark.django_db
def test_it_masks_passwords_in_the_log(people: dict[str, Any], school: Any) -> None:
    with school_scope(school):
        services.user_reset_password(user=people["staff"])
    changed = last("accounts.user.changed")
    assert changed.changes["password"] == ["***", "***"]
    assert last("accounts.user.password_reset").object_id == str(people["staff"].pk)


@pytest.mark.django_db
def test_it_records_the_export_itself(people: dict[str, Any]) -> None:
    client = web("10.0.0.8")
    client.force_login(people["admin"])
    response = client.get(reverse("audit:export"), {"action": "accounts."})
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(body)))
    exported = last("audit.exported")
    assert (exported.actor_id, exported.ip) == (people["admin"].pk, "10.0.0.8")
    assert exported.changes["filters"] == {"action": "accounts."}
    assert exported.changes["rows"] == len(rows) - 1


@pytest.mark.django_db
def test_it_defuses_formulas_in_the_export(people: dict[str, Any], school: Any) -> None:
    # A failed login's user name is typed by anyone on the internet.
    web().post(reverse("accounts:login"), {"username": "=HYPERLINK(1)", "password": "x"})
    with acting_as(Actor(user=None, name="+cmd")):
        audit_record("test.formula", school_id=school.pk, object_repr="@SUM(A1)")
    client = web()
    client.force_login(people["admin"])
    body = b"".join(client.get(reverse("audit:export")).streaming_content).decode("utf-8-sig")
    cells = [c for row in csv.reader(io.StringIO(body)) for c in row]
    assert "'+cmd" in cells and "'@SUM(A1)" in cells
    assert not any(c.startswith(("=", "+", "@")) for c in cells)


@pytest.mark.django_db
def test_it_never_changes_or_deletes_an_entry_through_the_orm(school: Any) -> None:
    entry = audit_record("test.one", school_id=school.pk)
    entry.action = "test.other"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.unscoped.filter(pk=entry.pk).update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEntry.unscoped.filter(pk=entry.pk).delete()


# --- The chain -------------------------------------------------------------------------------


def _fill(school: Any, count: int) -> list[AuditEntry]:
    return [
        audit_record(f"test.entry{n}", school_id=school.pk, changes={"n": n}) for n in range(count)
    ]


@pytest.mark.django_db
def test_it_verifies_an_untouched_chain(school: Any, other_school: Any) -> None:
    _fill(school, 5)
    _fill(other_school, 3)
    audit_record("test.system")
    result = audit_verify()
    assert result.ok and result.checked >= 9 and result.chains >= 3


@pytest.mark.django_db
def test_it_names_the_entry_edited_with_raw_sql(school: Any) -> None:
    written = _fill(school, 6)
    victim = written[3]
    raw_sql(
        "UPDATE audit_auditentry SET actor_label = %s WHERE id = %s", ["someone-else", victim.pk]
    )
    result = audit_verify()
    assert not result.ok and result.broken is not None
    assert (result.broken.entry_id, result.broken.seq, result.broken.chain) == (
        victim.pk,
        victim.seq,
        school.pk,
    )
    assert "changed" in result.broken.reason
    assert f"entry #{victim.pk}" in str(result.broken)


@pytest.mark.django_db
def test_it_detects_an_edit_that_also_recomputes_the_hash(school: Any) -> None:
    written = _fill(school, 4)
    victim = AuditEntry.unscoped.get(pk=written[1].pk)
    victim.changes = {"n": 999}
    raw_sql(
        "UPDATE audit_auditentry SET changes = %s, hash = %s WHERE id = %s",
        ['{"n": 999}', victim.compute_hash(), victim.pk],
    )
    broken = audit_verify().broken
    assert broken is not None and broken.entry_id == written[2].pk  # the next link no longer fits
    assert "previous" in broken.reason


@pytest.mark.django_db
def test_it_detects_a_row_deleted_from_the_middle(school: Any) -> None:
    written = _fill(school, 6)
    raw_sql("DELETE FROM audit_auditentry WHERE id = %s", [written[2].pk])
    broken = audit_verify().broken
    assert broken is not None
    assert broken.seq == written[2].seq and "missing" in broken.reason


@pytest.mark.django_db
def test_it_detects_a_truncated_end(school: Any) -> None:
    written = _fill(school, 6)
    raw_sql("DELETE FROM audit_auditentry WHERE id IN (%s, %s)", [written[4].pk, written[5].pk])
    broken = audit_verify().broken
    assert broken is not None and broken.entry_id is None
    assert "after seq" in broken.reason and str(written[3].seq) in broken.reason


@pytest.mark.django_db
def test_it_keeps_the_chain_verifiable_after_a_purge(db: Any) -> None:
    from yuqing.accounts.models import School

    start = timezone.now() - dt.timedelta(days=400)
    with time_machine.travel(start, tick=False):
        with all_schools():
            school = School.objects.create(name="老学校", slug="old")  # its "created" entry: old
        old = [*entries(chain=school.pk), *_fill(school, 3)]
    recent = _fill(school, 3)
    removed = audit_purge(older_than=timezone.now() - dt.timedelta(days=180))
    assert removed == 4
    assert not AuditEntry.unscoped.filter(pk__in=[e.pk for e in old]).exists()
    assert audit_verify().ok
    purge = last("audit.purged")
    assert purge.changes["entries"] == 4 and purge.school_id == school.pk
    assert entries(chain=school.pk)[0].pk == recent[0].pk
    head = AuditChainHead.objects.get(chain=school.pk)
    assert head.purged_through == old[-1].seq

    # A gap after the purge point is still found.
    raw_sql("DELETE FROM audit_auditentry WHERE id = %s", [recent[1].pk])
    assert audit_verify().broken is not None


@pytest.mark.django_db(transaction=True)
def test_it_does_not_fork_the_chain_under_concurrent_appends(school: Any) -> None:
    if connection.vendor == "sqlite":
        # The SQLite test database lives in memory, shared between threads through one
        # shared-cache connection whose table locks fail at once instead of waiting, so the
        # threads would test SQLite's locking, not ours. Real SQLite deployments use a file in
        # WAL mode with BEGIN IMMEDIATE, which serialises writers; PostgreSQL runs this test.
        pytest.skip(
            "concurrent writers need a server database (run with DATABASE_URL=postgres://…)"
        )
    threads, per_thread = 8, 15
    already = len(entries(chain=school.pk))  # the school's own "created" entry
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def work(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                audit_record(f"test.thread{n}", school_id=school.pk, changes={"i": i})
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    chain = entries(chain=school.pk)
    assert [e.seq for e in chain] == list(range(1, already + threads * per_thread + 1))
    assert len({e.prev_hash for e in chain}) == len(chain)  # no two entries share a parent
    assert audit_verify().ok


# --- The viewer ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_shows_an_administrator_only_their_schools_entries(
    people: dict[str, Any], outsider: Any, school: Any, other_school: Any
) -> None:
    audit_record("test.ours", school_id=school.pk, object_repr="我们的记录")
    audit_record("test.theirs", school_id=other_school.pk, object_repr="别人的记录")
    client = web()
    client.force_login(people["admin"])
    page = client.get(reverse("audit:log")).content.decode()
    assert "我们的记录" in page and "别人的记录" not in page
    body = b"".join(client.get(reverse("audit:export")).streaming_content).decode("utf-8-sig")
    assert "我们的记录" in body and "别人的记录" not in body


@pytest.mark.django_db
def test_it_shows_a_bureau_user_the_entries_of_its_schools(
    bureau_user: Any, school: Any, other_school: Any
) -> None:
    audit_record("test.a", school_id=school.pk, object_repr="甲校记录")
    audit_record("test.b", school_id=other_school.pk, object_repr="乙校记录")
    with all_schools():
        from yuqing.accounts.models import School

        elsewhere = School.objects.create(name="外市学校", slug="elsewhere")
    audit_record("test.c", school_id=elsewhere.pk, object_repr="外市记录")
    client = web()
    client.force_login(bureau_user)
    page = client.get(reverse("audit:log")).content.decode()
    assert "甲校记录" in page and "乙校记录" in page and "外市记录" not in page
    only_a = client.get(reverse("audit:log"), {"school": school.pk}).content.decode()
    assert "甲校记录" in only_a and "乙校记录" not in only_a


@pytest.mark.django_db
def test_it_filters_by_time_person_action_and_object(people: dict[str, Any], school: Any) -> None:
    alice, ming = people["admin"], people["monitor"]
    march = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)
    with time_machine.travel(march, tick=False), acting_as(Actor(user=alice)):
        audit_record("cases.case.closed", school_id=school.pk, object_repr="三月的案件")
    may = dt.datetime(2026, 5, 1, 10, tzinfo=dt.UTC)
    with time_machine.travel(may, tick=False), acting_as(Actor(user=ming)):
        audit_record("monitor.mention.flagged", school_id=school.pk, object_repr="五月的舆情")
    client = web()
    client.force_login(alice)

    def shown(**params: str) -> set[str]:
        page = client.get(reverse("audit:log"), params).content.decode()
        return {text for text in ("三月的案件", "五月的舆情") if text in page}

    assert shown() == {"三月的案件", "五月的舆情"}
    assert shown(since="2026-04-01") == {"五月的舆情"}
    assert shown(until="2026-03-01") == {"三月的案件"}
    assert shown(person="ming") == {"五月的舆情"}
    assert shown(action="cases.") == {"三月的案件"}
    assert shown(q="五月") == {"五月的舆情"}
    assert shown(since="2026-05-02", until="2026-03-01") == set()  # invalid range shows nothing


@pytest.mark.django_db
def test_it_paginates_the_log(people: dict[str, Any], school: Any) -> None:
    for n in range(120):
        audit_record("test.bulk", school_id=school.pk, object_repr=f"item-{n:03d}")
    client = web()
    client.force_login(people["admin"])
    first = client.get(reverse("audit:log"), {"action": "test.bulk"}).content.decode()
    third = client.get(reverse("audit:log"), {"action": "test.bulk", "page": 3}).content.decode()
    assert "item-119" in first and "item-000" not in first
    assert "item-000" in third and "item-119" not in third
    assert "action=test.bulk&amp;page=2" in first


@pytest.mark.django_db
def test_it_never_purges_a_recent_entry_even_if_the_clock_stepped_back(school: Any) -> None:
    recent = _fill(school, 2)
    with time_machine.travel(timezone.now() - dt.timedelta(days=400), tick=False):
        _fill(school, 2)  # written after the recent ones, but stamped long ago
    assert audit_purge(older_than=timezone.now() - dt.timedelta(days=180)) == 0
    assert AuditEntry.unscoped.filter(pk__in=[e.pk for e in recent]).count() == 2
    assert audit_verify().ok


@pytest.mark.django_db
def test_it_records_the_purge_of_an_empty_school_as_nothing(school: Any) -> None:
    make_user(school, "someone")  # creates entries today; none is old enough
    assert audit_purge(older_than=timezone.now() - dt.timedelta(days=180)) == 0
    assert not AuditEntry.unscoped.filter(action="audit.purged").exists()


@pytest.mark.django_db
def test_it_records_changes_of_audited_models_outside_services_too(school: Any) -> None:
    # Code that bypasses the services (a shell session, a migration) is still recorded.
    with school_scope(school):
        unit = OrgUnit.objects.create(name="后勤处")
        OrgUnit.objects.filter(pk=unit.pk)  # reading records nothing
    assert last("accounts.orgunit.created").object_id == str(unit.pk)
