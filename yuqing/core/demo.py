"""The demo school: a fictional school with its org units and one person per role.

Loading is idempotent: every record is found by its natural key (school slug, unit name under
its parent, username) and created only when missing, so `yuqing run` can call it on every start
without duplicating or losing anything. The names are invented; any likeness is accidental.

Passwords are random per data dir and kept in ``<data dir>/demo-passwords.txt`` (mode 600), so
a later run can print them again without storing them anywhere else in clear text.
"""

from __future__ import annotations

import os
import secrets
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction

from yuqing.accounts.models import OrgUnit, RoleAssignment, School, User
from yuqing.core.tenancy import all_schools, school_scope

BUREAU = {
    "slug": "demo-bureau",
    "name": "滨海市教育局",
    "short_name": "市教育局",
    "region": "滨海市",
}
SCHOOL = {
    "slug": "demo-school",
    "name": "滨海市育英中学",
    "short_name": "育英中学",
    "region": "滨海市",
}

# (name, kind, children): the office tree a Chinese middle school typically has. Incidents
# travel class → grade office → 政教处 → 工作专班 → 领导小组 along this tree.
UNITS: tuple[tuple[str, str, tuple[Any, ...]], ...] = (
    (
        "领导小组",
        "leadership",
        (
            (
                "工作专班",
                "working_group",
                (
                    ("办公室", "office", ()),
                    (
                        "政教处",
                        "office",
                        (
                            (
                                "初一年级组",
                                "grade",
                                (("初一(1)班", "class", ()), ("初一(2)班", "class", ())),
                            ),
                            ("初二年级组", "grade", (("初二(1)班", "class", ()),)),
                        ),
                    ),
                    ("教务处", "office", ()),
                    ("安保办", "office", ()),
                    ("总务处", "office", ()),
                    ("信息中心", "department", ()),
                ),
            ),
        ),
    ),
)


@dataclass(frozen=True)
class DemoPerson:
    username: str
    display_name: str
    role: str
    unit: str | None  # name of the org unit the role is held in; None: school-wide
    bureau: bool = False


PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("demo-admin", "王主任", "admin", None),
    DemoPerson("demo-monitor", "李老师", "monitor", "办公室"),
    DemoPerson("demo-handler", "张老师", "handler", "政教处"),
    DemoPerson("demo-reviewer", "陈校长", "reviewer", "领导小组"),
    DemoPerson("demo-security", "赵老师", "security", "安保办"),
    DemoPerson("demo-staff", "刘老师", "staff", "初一年级组"),
    DemoPerson("demo-bureau", "周科长", "monitor", None, bureau=True),
)

PASSWORD_FILE = "demo-passwords.txt"  # noqa: S105  (a file name, not a password)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    display_name: str
    role: str
    password: str
    created: bool


@dataclass(frozen=True)
class DemoResult:
    school: School
    bureau: School
    logins: list[DemoLogin]
    created_anything: bool


def generate_password(length: int = 14) -> str:
    """A random password that passes the project's validators (three character classes)."""
    # No 0/O, 1/l/I: these passwords are read off a terminal and typed in by hand.
    alphabet = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")
    while True:
        body = "".join(secrets.choice(alphabet) for _ in range(length - 2))
        candidate = f"{body[:4]}-{body[4:8]}-{body[8:]}"
        if (
            any(c.islower() for c in candidate)
            and any(c.isupper() for c in candidate)
            and any(c.isdigit() for c in candidate)
        ):
            return candidate


def read_passwords(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    stored: dict[str, str] = {}
    for line in text.splitlines():
        if "\t" in line and not line.startswith("#"):
            username, password = line.split("\t", 1)
            stored[username.strip()] = password.strip()
    return stored


def write_passwords(path: Path, passwords: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Demo users of this data dir: username<TAB>password. Keep this file private."]
    lines += [f"{username}\t{password}" for username, password in sorted(passwords.items())]
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    # Created 600 from the start: the passwords are never readable by others, not even briefly.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    os.replace(tmp, path)
    os.chmod(path, 0o600)


def _ensure_units(school: School) -> tuple[dict[str, OrgUnit], bool]:
    by_name: dict[str, OrgUnit] = {}
    created_any = False

    def walk(nodes: tuple[Any, ...], parent: OrgUnit | None) -> None:
        nonlocal created_any
        for order, (name, kind, children) in enumerate(nodes):
            unit, created = OrgUnit.objects.get_or_create(
                school=school,
                parent=parent,
                name=name,
                defaults={"kind": kind, "sort_order": order * 10},
            )
            created_any |= created
            by_name[name] = unit
            walk(children, unit)

    walk(UNITS, None)
    return by_name, created_any


def _ensure_person(
    person: DemoPerson, school: School, unit: OrgUnit | None, stored: dict[str, str]
) -> tuple[DemoLogin, bool]:
    with all_schools():  # usernames are unique across the deployment, not per school
        user = User.objects.filter(username=person.username).first()
    created = user is None
    if user is None:
        user = User(username=person.username, school=school, display_name=person.display_name)
    password = stored.get(person.username)
    if created or password is None:
        # A user whose password this data dir does not know (the file was deleted, or the
        # database is shared with another data dir) gets a new one, so what we print works.
        password = password or generate_password()
        user.set_password(password)
        user.save()
    stored[person.username] = password
    _, role_created = RoleAssignment.objects.get_or_create(
        user=user, role=person.role, org_unit=unit, defaults={"school": school}
    )
    login = DemoLogin(person.username, person.display_name, person.role, password, created)
    return login, created or role_created


def demo_load(*, data_dir: Path) -> DemoResult:
    """Create whatever part of the demo school is missing; return the demo logins."""
    password_file = data_dir / PASSWORD_FILE
    stored = read_passwords(password_file)
    logins: list[DemoLogin] = []
    with transaction.atomic():
        with all_schools():
            bureau, bureau_created = School.objects.get_or_create(
                slug=BUREAU["slug"], defaults={**BUREAU, "kind": School.Kind.BUREAU}
            )
            school, school_created = School.objects.get_or_create(
                slug=SCHOOL["slug"],
                defaults={**SCHOOL, "kind": School.Kind.SCHOOL, "parent": bureau},
            )
        created_any = bureau_created or school_created
        with school_scope(school):
            units, units_created = _ensure_units(school)
            created_any |= units_created
            for person in PEOPLE:
                if person.bureau:
                    continue
                login, created = _ensure_person(
                    person, school, units.get(person.unit or ""), stored
                )
                logins.append(login)
                created_any |= created
        with school_scope(bureau):
            for person in PEOPLE:
                if person.bureau:
                    login, created = _ensure_person(person, bureau, None, stored)
                    logins.append(login)
                    created_any |= created
    # Written after the commit: a rolled-back load must not leave passwords that match nothing.
    write_passwords(password_file, stored)
    return DemoResult(school=school, bureau=bureau, logins=logins, created_anything=created_any)


def demo_school() -> School | None:
    with all_schools():
        return School.objects.filter(slug=SCHOOL["slug"]).first()
