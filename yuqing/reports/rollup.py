"""The hourly rollup of mentions (``MentionHour``), kept by triggers in the database.

Why triggers: mentions are written by ingest, bulk loads, label corrections, event merges and
retention, in apps that do not know of this table. A trigger on ``monitor_mention`` sees every
one of those writes, in the same transaction, so the rollup is exact by construction and the
dashboards can read 16 small rows per hour instead of every mention.

Why UTC hours: a trigger cannot know the time zone a reader will ask in; local days are sums
of whole hours in every zone whose offset is a whole number of hours (the readers fall back to
the mentions themselves otherwise, see ``covers``).

The triggers are (re)installed after every ``migrate`` (``ensure``): a later migration that
rebuilds ``monitor_mention`` (SQLite does that for many schema changes) drops them, and then
the rollup is rebuilt from the mentions before the triggers are created again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

# The version in the name: changing what the triggers count means a new name, and ensure()
# replaces the old triggers and rebuilds the rollup.
TRIGGER = "reports_mentionhour_v2"
_COLUMNS = (
    "relevant, sentiment, topic, source_type, risk, event_id, published_at, fetched_at, school_id"
)

# (dim, value expression, condition, bucket) with {m} standing for NEW, OLD or the table.
# Events are counted per hour (their curves) and per UTC day ("E": the top events of a month
# add up a few hundred rows a day instead of thousands an hour).
_DIMS = (
    ("s", "{m}.sentiment", "TRUE", "hour"),
    ("t", "{m}.topic", "TRUE", "hour"),
    ("k", "{m}.source_type", "TRUE", "hour"),
    ("r", "''", "{m}.risk >= 3", "hour"),
    ("e", "CAST({m}.event_id AS TEXT)", "{m}.event_id IS NOT NULL", "hour"),
    ("E", "CAST({m}.event_id AS TEXT)", "{m}.event_id IS NOT NULL", "day"),
)
_BUCKET = {
    ("sqlite", "hour"): "strftime('%Y-%m-%d %H:00:00', {m}.dated_at)",
    ("sqlite", "day"): "strftime('%Y-%m-%d 00:00:00', {m}.dated_at)",
    (
        "postgresql",
        "hour",
    ): "(date_trunc('hour', {m}.dated_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')",
    (
        "postgresql",
        "day",
    ): "(date_trunc('day', {m}.dated_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')",
}
VENDORS = ("sqlite", "postgresql")


def _apply(vendor: str, m: str, delta: int) -> list[str]:
    """Statements adding ``delta`` for row ``m`` (NEW or OLD) to its hour's rows."""
    out = []
    for dim, value, cond, bucket in _DIMS:
        hour = _BUCKET[vendor, bucket].format(m=m)
        out.append(
            "INSERT INTO reports_mentionhour (school_id, hour, dim, value, n) "
            f"SELECT {m}.school_id, {hour}, '{dim}', {value.format(m=m)}, {delta} "
            f"WHERE {m}.relevant AND {cond.format(m=m)} "
            "ON CONFLICT (school_id, dim, hour, value) "
            "DO UPDATE SET n = reports_mentionhour.n + excluded.n"
        )
    return out


def _sqlite_triggers() -> list[str]:
    def body(parts: list[str]) -> str:
        return " ".join(p + ";" for p in parts)

    return [
        f"CREATE TRIGGER IF NOT EXISTS {TRIGGER}_ins AFTER INSERT ON monitor_mention "
        f"BEGIN {body(_apply('sqlite', 'NEW', 1))} END",
        f"CREATE TRIGGER IF NOT EXISTS {TRIGGER}_del AFTER DELETE ON monitor_mention "
        f"BEGIN {body(_apply('sqlite', 'OLD', -1))} END",
        f"CREATE TRIGGER IF NOT EXISTS {TRIGGER}_upd AFTER UPDATE OF {_COLUMNS} "
        "ON monitor_mention "
        f"BEGIN {body(_apply('sqlite', 'OLD', -1) + _apply('sqlite', 'NEW', 1))} END",
    ]


def _postgres_triggers() -> list[str]:
    def block(m: str, delta: int) -> str:
        return " ".join(p + ";" for p in _apply("postgresql", m, delta))

    return [
        f"CREATE OR REPLACE FUNCTION {TRIGGER}_fn() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        f"IF TG_OP IN ('UPDATE', 'DELETE') THEN {block('OLD', -1)} END IF; "
        f"IF TG_OP IN ('UPDATE', 'INSERT') THEN {block('NEW', 1)} END IF; "
        "RETURN NULL; END $$",
        f"CREATE TRIGGER {TRIGGER} AFTER INSERT OR DELETE OR UPDATE OF {_COLUMNS} "
        f"ON monitor_mention FOR EACH ROW EXECUTE FUNCTION {TRIGGER}_fn()",
    ]


def installed(connection: Any) -> bool:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgname = %s AND NOT tgisinternal",
                [TRIGGER],
            )
            return bool(cursor.fetchone()[0] == 1)
        cursor.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s",
            [f"{TRIGGER}_%"],
        )
        return bool(cursor.fetchone()[0] == 3)


def rebuild(connection: Any) -> None:
    """The rollup computed afresh from every mention (one pass per label)."""
    selects = [
        f"SELECT m.school_id, {_BUCKET[connection.vendor, bucket].format(m='m')}, '{dim}', "  # noqa: S608
        f"{value.format(m='m')}, COUNT(*) "
        f"FROM monitor_mention m WHERE m.relevant AND {cond.format(m='m')} "
        "GROUP BY 1, 2, 4"
        for dim, value, cond, bucket in _DIMS
    ]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM reports_mentionhour")
        for select in selects:
            # Fixed SQL built from the constants above: no outside value reaches it.
            cursor.execute(
                "INSERT INTO reports_mentionhour (school_id, hour, dim, value, n) " + select
            )


def _drop_old(connection: Any) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'reports_mentionhour%' "
                "AND NOT tgisinternal"
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}" ON monitor_mention')
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND name LIKE 'reports_mentionhour%'"
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP TRIGGER IF EXISTS "{name}"')


def ensure(connection: Any) -> bool:
    """Install the current triggers if missing, rebuilding the rollup first; True if it did."""
    if connection.vendor not in VENDORS or installed(connection):
        return False
    from django.db import transaction

    with transaction.atomic(using=connection.alias):
        if connection.vendor == "postgresql":
            # No mention may be written between the rebuild and the trigger.
            with connection.cursor() as cursor:
                cursor.execute("LOCK TABLE monitor_mention IN SHARE ROW EXCLUSIVE MODE")
        _drop_old(connection)
        rebuild(connection)
        statements = (
            _postgres_triggers() if connection.vendor == "postgresql" else _sqlite_triggers()
        )
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
    return True


def covers(lo: dt.datetime, hi: dt.datetime) -> bool:
    """Whether [lo, hi) is made of whole UTC hours (a zone with a whole-hour offset)."""
    return all(t.astimezone(dt.UTC).minute == 0 and t.second == 0 for t in (lo, hi))


# --------------------------------------------------------------------------- reading


def per_day(
    start: dt.date, end: dt.date, dim: str, values: Any = None
) -> dict[tuple[str, Any], int]:
    """{(value, local day): mentions} of ``dim`` over [start, end], from the rollup.

    Only for windows ``covers`` accepts; ``values`` narrows to some values (event ids).
    """
    from django.db.models import Sum

    from yuqing.reports.compute import local_day, window
    from yuqing.reports.models import MentionHour

    lo, hi = window(start, end)
    expr, to_date = local_day(start, end, field="hour")
    qs = MentionHour.objects.filter(dim=dim, hour__gte=lo, hour__lt=hi)
    if values is not None:
        qs = qs.filter(value__in=[str(v) for v in values])
    rows = qs.annotate(day=expr).values("value", "day").annotate(total=Sum("n"))
    out: dict[tuple[str, Any], int] = {}
    for r in rows:
        if r["total"]:
            key = (r["value"], to_date(r["day"]))
            out[key] = out.get(key, 0) + r["total"]
    return out


def _sums(dim: str, lo: dt.datetime, hi: dt.datetime, into: dict[str, int]) -> None:
    from django.db.models import Sum

    from yuqing.reports.models import MentionHour

    if lo >= hi:
        return
    rows = (
        MentionHour.objects.filter(dim=dim, hour__gte=lo, hour__lt=hi)
        .values("value")
        .annotate(total=Sum("n"))
    )
    for r in rows:
        into[r["value"]] = into.get(r["value"], 0) + r["total"]


def totals(start: dt.date, end: dt.date, dim: str) -> dict[str, int]:
    """{value: mentions} of ``dim`` over [start, end], from the rollup."""
    from yuqing.reports.compute import window

    out: dict[str, int] = {}
    _sums(dim, *window(start, end), out)
    return {k: n for k, n in out.items() if n}


def top_events(start: dt.date, end: dt.date, limit: int) -> list[tuple[int, int]]:
    """[(event id, mentions)] of the ``limit`` events with most mentions, most first.

    Whole UTC days inside the window are read from the daily event rows, the hours before
    the first and after the last UTC midnight from the hourly ones.
    """
    from yuqing.reports.compute import window

    lo, hi = window(start, end)
    first = lo.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if first < lo:
        first += dt.timedelta(days=1)
    last = hi.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    counts: dict[str, int] = {}
    if first < last:
        _sums("E", first, last, counts)
        _sums("e", lo, first, counts)
        _sums("e", last, hi, counts)
    else:
        _sums("e", lo, hi, counts)
    ranked = sorted(((int(k), n) for k, n in counts.items() if n), key=lambda r: (-r[1], r[0]))
    return ranked[:limit]
