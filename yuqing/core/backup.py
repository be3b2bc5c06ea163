"""`yuqing backup` and `yuqing restore`: one archive holds everything a deployment needs.

An archive (``.tar.gz``) contains:

- ``database/yuqing.sqlite3`` — a consistent online copy made with SQLite's backup API while
  the web server and the worker keep writing, or ``database/yuqing.pgdump`` — ``pg_dump
  --format=custom`` of the PostgreSQL database (one snapshot, also online);
- ``files/…`` — everything under MEDIA_ROOT (evidence, attachments, reports, imports);
- ``secrets/…`` — the data dir's keys: ``keys/`` (publication sign-off signing key),
  ``channel.key`` (encrypts alert-channel secrets) and ``secret_key``. Without them a restored
  deployment cannot verify old sign-offs or send to its channels, so the archive is written
  with mode 600 and must be kept like a password;
- ``manifest.json`` — last: format, time, database kind, migrations, and the size and SHA-256
  of every other member.

The archive is written under a temporary name, fsynced and renamed, so a backup that fails
(disk full, killed) never leaves a file that looks complete. ``restore`` reads the whole
archive and checks every checksum *before* it touches anything, refuses a target that holds
data unless ``force`` is given, and moves replaced SQLite files and folders aside instead of
deleting them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

FORMAT = "yuqing-backup-1"
MANIFEST = "manifest.json"
SECRET_FILES = ("channel.key", "secret_key")
SECRET_DIRS = ("keys",)
_CHUNK = 1024 * 1024

Progress = Callable[[str, int, int], None]
"""``progress(step, done, total)``: a step's name and how far it is (bytes or items)."""


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


@dataclass
class BackupResult:
    path: Path
    size: int
    members: int
    database: str
    files: int


@dataclass
class RestoreResult:
    database: str
    files: int
    secrets: int
    moved_aside: list[Path] = field(default_factory=list)


def _no_progress(step: str, done: int, total: int) -> None:
    return None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- databases


def database_settings() -> dict[str, Any]:
    from django.conf import settings

    return dict(settings.DATABASES["default"])


def vendor(db: dict[str, Any]) -> str:
    engine = str(db["ENGINE"])
    if engine.endswith("sqlite3"):
        return "sqlite"
    if engine.endswith("postgresql"):
        return "postgresql"
    raise BackupError(f"backups support SQLite and PostgreSQL, not {engine}")


def pg_env(db: dict[str, Any]) -> dict[str, str]:
    """libpq's environment for pg_dump / pg_restore: the password never shows in ``ps``."""
    env = dict(os.environ)
    env.update(
        PGHOST=str(db.get("HOST") or "127.0.0.1"),
        PGPORT=str(db.get("PORT") or 5432),
        PGDATABASE=str(db["NAME"]),
    )
    if db.get("USER"):
        env["PGUSER"] = str(db["USER"])
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return env


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not installed: install the PostgreSQL client tools"
            " (Debian: apt install postgresql-client) of the server's version"
        )
    return path


def _major(version_text: str) -> int:
    # "pg_dump (PostgreSQL) 15.20 (Debian …)" -> 15
    for word in version_text.split():
        head = word.split(".")[0]
        if head.isdigit():
            return int(head)
    raise BackupError(f"cannot read a version from {version_text!r}")


def pg_versions(db: dict[str, Any]) -> tuple[int, int]:
    """(client major, server major). pg_dump refuses a server newer than itself."""
    from django.db import connection

    client = subprocess.run(  # noqa: S603
        [_pg_tool("pg_dump"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        (number,) = cursor.fetchone()
    return _major(client), int(number) // 10000


def check_pg_client(db: dict[str, Any]) -> None:
    client, server = pg_versions(db)
    if client < server:
        raise BackupError(
            f"pg_dump is version {client} but the server runs PostgreSQL {server}: pg_dump cannot"
            f" dump a newer server. Install postgresql-client-{server} and put it first in PATH"
        )


def dump_sqlite(db: dict[str, Any], target: Path, progress: Progress) -> None:
    """A consistent copy while others write: SQLite's online backup API, page by page."""
    source = sqlite3.connect(f"file:{db['NAME']}?mode=ro", uri=True, timeout=30)
    dest = sqlite3.connect(target)
    try:

        def step(status: int, remaining: int, total: int) -> None:
            progress("database", total - remaining, total)

        # 1024 pages a step: writers get the lock between steps; if one changes a page already
        # copied, SQLite restarts the copy, so the result is one consistent snapshot.
        source.backup(dest, pages=1024, progress=step)
    finally:
        dest.close()
        source.close()
    check = sqlite3.connect(target)
    try:
        (result,) = check.execute("PRAGMA integrity_check").fetchone()
    finally:
        check.close()
    if result != "ok":
        raise BackupError(f"the copied SQLite database fails its integrity check: {result}")


def dump_postgres(db: dict[str, Any], target: Path, progress: Progress) -> None:
    check_pg_client(db)
    progress("database", 0, 1)
    proc = subprocess.run(  # noqa: S603
        [
            _pg_tool("pg_dump"),
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            f"--file={target}",
        ],
        env=pg_env(db),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise BackupError(f"pg_dump failed: {proc.stderr.strip()[-500:]}")
    progress("database", 1, 1)


# --------------------------------------------------------------------------- backup


def _walk(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.startswith(".partial-"):
                continue  # an upload being written right now (yuqing.lib.storage)
            yield Path(dirpath) / name


def _migrations() -> dict[str, str]:
    from django.db.migrations.recorder import MigrationRecorder

    latest: dict[str, str] = {}
    for app, name in MigrationRecorder.Migration.objects.values_list("app", "name"):
        latest[app] = max(latest.get(app, ""), name)
    return dict(sorted(latest.items()))


class _Writer:
    """Adds members to the tar and remembers their size and SHA-256 for the manifest."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.members: dict[str, dict[str, Any]] = {}

    def add_file(self, path: Path, arcname: str) -> None:
        size = path.stat().st_size
        digest = hashlib.sha256()
        info = tarfile.TarInfo(arcname)
        info.size = size
        info.mode = 0o600
        info.mtime = int(path.stat().st_mtime)
        with path.open("rb") as fh:
            reader = _HashingReader(fh, digest)
            self.tar.addfile(info, reader)
            if reader.read_bytes != size:
                raise BackupError(f"{path} changed size while it was being copied; run again")
        self.members[arcname] = {"size": size, "sha256": digest.hexdigest()}

    def add_bytes(self, data: bytes, arcname: str) -> None:
        info = tarfile.TarInfo(arcname)
        info.size = len(data)
        info.mode = 0o600
        info.mtime = int(dt.datetime.now(dt.UTC).timestamp())
        self.tar.addfile(info, io.BytesIO(data))


class _HashingReader(io.RawIOBase):
    def __init__(self, fh: IO[bytes], digest: Any) -> None:
        self.fh = fh
        self.digest = digest
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.digest.update(data)
        self.read_bytes += len(data)
        return data


def default_archive_name(now: dt.datetime | None = None) -> str:
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d-%H%M%S")
    return f"yuqing-backup-{stamp}.tar.gz"


def backup_create(*, dest: Path, progress: Progress = _no_progress) -> BackupResult:
    """Write a complete archive to ``dest``: a ``.tar.gz`` path, or a folder to put it in."""
    from importlib.metadata import PackageNotFoundError, version

    from django.conf import settings

    try:
        yuqing_version = version("yuqing")
    except PackageNotFoundError:
        yuqing_version = "unknown"
    if dest.is_dir() or not dest.name.endswith((".tar.gz", ".tgz")):
        dest.mkdir(parents=True, exist_ok=True)  # a folder: the archive gets a dated name
        dest = dest / default_archive_name()
    if dest.exists():
        raise BackupError(f"{dest} exists already; choose another name")
    dest.parent.mkdir(parents=True, exist_ok=True)
    db = database_settings()
    kind = vendor(db)
    data_dir = Path(settings.DATA_DIR)
    media = Path(settings.MEDIA_ROOT)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with tempfile.TemporaryDirectory(prefix="yuqing-backup-") as work:
            dump = Path(work) / ("yuqing.sqlite3" if kind == "sqlite" else "yuqing.pgdump")
            if kind == "sqlite":
                dump_sqlite(db, dump, progress)
            else:
                dump_postgres(db, dump, progress)
            files = list(_walk(media))
            secrets = [data_dir / n for n in SECRET_FILES if (data_dir / n).is_file()]
            for folder in SECRET_DIRS:
                secrets += list(_walk(data_dir / folder))
            with os.fdopen(fd, "wb") as raw:
                with tarfile.open(fileobj=raw, mode="w:gz", compresslevel=1) as tar:
                    writer = _Writer(tar)
                    writer.add_file(dump, f"database/{dump.name}")
                    for index, path in enumerate(files, 1):
                        writer.add_file(path, f"files/{path.relative_to(media).as_posix()}")
                        progress("files", index, len(files))
                    for path in secrets:
                        writer.add_file(path, f"secrets/{path.relative_to(data_dir).as_posix()}")
                    manifest = {
                        "format": FORMAT,
                        "created_at": dt.datetime.now(dt.UTC).isoformat(),
                        "yuqing_version": yuqing_version,
                        "database": kind,
                        "migrations": _migrations(),
                        "members": writer.members,
                    }
                    writer.add_bytes(
                        json.dumps(manifest, ensure_ascii=False, indent=1).encode(), MANIFEST
                    )
                raw.flush()
                os.fsync(raw.fileno())
        os.chmod(tmp, 0o600)
        os.link(tmp, dest)  # refuses to replace a file that appeared meanwhile
        fsync_dir(dest.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return BackupResult(
        path=dest,
        size=dest.stat().st_size,
        members=len(writer.members) + 1,
        database=kind,
        files=len(files),
    )


# --------------------------------------------------------------------------- restore


@dataclass
class Archive:
    path: Path
    manifest: dict[str, Any]

    @property
    def database_member(self) -> str:
        return next(n for n in self.manifest["members"] if n.startswith("database/"))


def _safe_member_name(name: str) -> bool:
    pure = PurePosixPath(name)
    return not pure.is_absolute() and ".." not in pure.parts and bool(pure.parts)


def archive_check(path: Path, progress: Progress = _no_progress) -> Archive:
    """Read the whole archive; refuse it unless every member matches the manifest."""
    if not path.is_file():
        raise BackupError(f"no archive at {path}")
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            try:
                fh = tar.extractfile(MANIFEST)
            except KeyError:
                raise BackupError(f"{path} is not a Yuqing backup (no {MANIFEST})") from None
            assert fh is not None
            manifest = json.loads(fh.read().decode("utf-8"))
            if manifest.get("format") != FORMAT:
                raise BackupError(f"{path}: unknown backup format {manifest.get('format')!r}")
            expected: dict[str, dict[str, Any]] = manifest["members"]
            seen: set[str] = set()
            total = len(expected)
            for member in tar:
                if member.name == MANIFEST:
                    continue
                if not member.isfile() or not _safe_member_name(member.name):
                    raise BackupError(f"{path}: unexpected member {member.name!r}")
                want = expected.get(member.name)
                if want is None:
                    raise BackupError(f"{path}: {member.name} is not in the manifest")
                digest = hashlib.sha256()
                data = tar.extractfile(member)
                assert data is not None
                for chunk in iter(lambda: data.read(_CHUNK), b""):  # noqa: B023
                    digest.update(chunk)
                if member.size != want["size"] or digest.hexdigest() != want["sha256"]:
                    raise BackupError(f"{path}: {member.name} does not match its checksum")
                seen.add(member.name)
                progress("checking", len(seen), total)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise BackupError(f"{path} is damaged or incomplete ({exc})") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{path} has an unreadable manifest ({exc})") from None
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(f"{path} is incomplete: {len(missing)} members missing ({missing[0]})")
    if not any(n.startswith("database/") for n in expected):
        raise BackupError(f"{path} holds no database")
    return Archive(path=path, manifest=manifest)


def _sqlite_has_data(name: str) -> bool:
    if not Path(name).exists() or Path(name).stat().st_size == 0:
        return False
    conn = sqlite3.connect(f"file:{name}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "django_migrations" not in tables:
            return bool(tables)
        return True
    finally:
        conn.close()


def _pg_has_data() -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        )
        (count,) = cursor.fetchone()
    return bool(count)


def _dir_has_files(path: Path) -> bool:
    return any(True for _ in _walk(path))


def target_contents() -> list[str]:
    """What the restore would replace: empty when the target is fresh."""
    from django.conf import settings

    db = database_settings()
    found = []
    if vendor(db) == "sqlite":
        if _sqlite_has_data(str(db["NAME"])):
            found.append(f"the database {db['NAME']}")
    elif _pg_has_data():
        found.append(f"the PostgreSQL database {db['NAME']}")
    if _dir_has_files(Path(settings.MEDIA_ROOT)):
        found.append(f"stored files in {settings.MEDIA_ROOT}")
    return found


def _extract(tar: tarfile.TarFile, name: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(name)
    assert source is not None
    with target.open("wb") as out:
        shutil.copyfileobj(source, out, _CHUNK)
        out.flush()
        os.fsync(out.fileno())


def _aside(path: Path, stamp: str) -> Path:
    aside = path.with_name(f"{path.name}.before-restore-{stamp}")
    os.replace(path, aside)
    return aside


def backup_restore(
    *, archive_path: Path, force: bool = False, progress: Progress = _no_progress
) -> RestoreResult:
    """Restore an archive into the configured database and data dir.

    Run with the web server and workers stopped. The archive is checked completely first.
    """
    from django.conf import settings
    from django.db import connections

    archive = archive_check(archive_path, progress)
    db = database_settings()
    kind = vendor(db)
    if archive.manifest["database"] != kind:
        raise BackupError(
            f"the archive holds a {archive.manifest['database']} database but DATABASE_URL"
            f" points to {kind}; restore it into a {archive.manifest['database']} deployment"
        )
    occupied = target_contents()
    if occupied and not force:
        raise BackupError(
            "the target is not empty (" + "; ".join(occupied) + "): restore into a fresh data"
            " dir and database, or add --force to replace them (SQLite files and folders are"
            " moved aside, not deleted)"
        )
    if kind == "postgresql":
        check_pg_client(db)
    data_dir = Path(settings.DATA_DIR)
    media = Path(settings.MEDIA_ROOT)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    result = RestoreResult(database=kind, files=0, secrets=0)
    members = archive.manifest["members"]
    connections.close_all()
    with (
        tarfile.open(archive.path, mode="r:gz") as tar,
        tempfile.TemporaryDirectory(prefix=".yuqing-restore-", dir=data_dir) as work,
    ):
        staging = Path(work)
        # Everything is unpacked beside its destination first; only then is anything replaced.
        dump = staging / "database"
        _extract(tar, archive.database_member, dump)
        new_media = staging / "files"
        new_media.mkdir()
        file_names = [n for n in members if n.startswith("files/")]
        for index, name in enumerate(file_names, 1):
            _extract(tar, name, new_media / PurePosixPath(name).relative_to("files"))
            progress("files", index, len(file_names))
        secret_names = [n for n in members if n.startswith("secrets/")]
        for name in secret_names:
            _extract(tar, name, staging / name)

        if kind == "sqlite":
            target = Path(str(db["NAME"]))
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                result.moved_aside.append(_aside(target, stamp))
            for suffix in ("-wal", "-shm"):
                # A write-ahead log left by the old database would be replayed into the new one.
                Path(f"{target}{suffix}").unlink(missing_ok=True)
            os.replace(dump, target)
        else:
            _pg_restore(db, dump, clean=bool(occupied))
        progress("database", 1, 1)

        if media.exists() and _dir_has_files(media):
            result.moved_aside.append(_aside(media, stamp))
        elif media.exists():
            shutil.rmtree(media)
        os.replace(new_media, media)
        result.files = len(file_names)

        for name in secret_names:
            relative = PurePosixPath(name).relative_to("secrets")
            target_path = data_dir / relative
            target_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if target_path.exists():
                if target_path.read_bytes() == (staging / name).read_bytes():
                    continue
                result.moved_aside.append(_aside(target_path, stamp))
            os.replace(staging / name, target_path)
            os.chmod(target_path, 0o600)
            result.secrets += 1
        fsync_dir(data_dir)
    return result


def _pg_restore(db: dict[str, Any], dump: Path, *, clean: bool) -> None:
    from django.db import connection

    if clean:
        # --force on PostgreSQL: the public schema is emptied, then filled from the dump.
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE")
            cursor.execute("CREATE SCHEMA public")
        connection.close()
    proc = subprocess.run(  # noqa: S603
        [
            _pg_tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={db['NAME']}",
            str(dump),
        ],
        env=pg_env(db),
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise BackupError(f"pg_restore failed: {proc.stderr.strip()[-500:]}")
