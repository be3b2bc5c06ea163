"""`yuqing backup` and `yuqing restore`, round trip through real processes.

On the SQLite run the deployments are SQLite data dirs; on the PostgreSQL run each deployment
gets its own new PostgreSQL database (pg_dump / pg_restore).
"""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.clitools import ROOT, child_database, cli_env, yuqing
from tests.faultkit import PRELUDE, child_python, table_counts, tiny_filesystem

# Rows whose count changes by themselves (the cache table, sessions) are not compared.
VOLATILE = ("django_session",)

SEED = """
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from yuqing.audit.services import audit_record
with all_schools():
    for i in range(20):
        audit_record("test.backup.seed", changes={"i": i})
name = default_storage.save("evidence/1/ab/seed.bin", ContentFile(bytes(range(256)) * 400))
print(json.dumps({"file": name}))
"""

AUDIT_OK = """
from yuqing.audit.services import audit_verify
with all_schools():
    result = audit_verify()
print(json.dumps({"ok": result.ok, "checked": result.checked, "broken": str(result.broken)}))
"""

# Writes audit entries (each a hash-chain append in its own transaction) until killed: the
# backup runs meanwhile and must still hold one consistent state of every chain.
WRITER = """
import time
from yuqing.audit.services import audit_record
print(json.dumps({"ready": True}), flush=True)
with all_schools():
    for i in range(100000):
        audit_record("test.backup.during", changes={"i": i})
"""


def deployment(tmp_path: Path, name: str, database_url: str | None) -> dict[str, str]:
    env = cli_env(tmp_path / name, database_url=database_url, YUQING_DEMO="1")
    return env


def migrate_and_seed(env: dict[str, str]) -> str:
    assert yuqing("migrate", env=env).returncode == 0
    assert yuqing("demo", env=env, timeout=300).returncode == 0
    return str(child_python(SEED, env)["file"])


@pytest.mark.slow
def test_it_restores_a_backup_taken_while_yuqing_writes(tmp_path: Path) -> None:
    with child_database() as source_url, child_database() as target_url:
        source = deployment(tmp_path, "source", source_url)
        target = deployment(tmp_path, "target", target_url)
        stored = migrate_and_seed(source)
        writer = subprocess.Popen(
            [sys.executable, "-c", PRELUDE + WRITER],
            env=source,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert writer.stdout is not None
            assert "ready" in writer.stdout.readline()
            backup = yuqing("backup", str(tmp_path / "archives"), env=source, timeout=300)
        finally:
            writer.kill()
            writer.wait()
        assert backup.returncode == 0, backup.stderr
        assert "Backup written" in backup.stdout
        (archive,) = (tmp_path / "archives").glob("yuqing-backup-*.tar.gz")
        assert archive.stat().st_mode & 0o777 == 0o600  # it holds the keys

        restore = yuqing("restore", str(archive), env=target, timeout=300)
        assert restore.returncode == 0, restore.stderr
        assert "Restored the" in restore.stdout

        # The restored chain verifies: the snapshot holds one consistent state, although
        # audit entries were being appended all through the backup.
        verified = child_python(AUDIT_OK, target)
        assert verified["ok"], verified
        assert verified["checked"] > 20
        counts = table_counts(target, VOLATILE)
        assert counts["accounts.school"] >= 2  # the demo school and its bureau
        assert counts["accounts.user"] >= 7
        assert sum(counts.values()) > 100
        # The writer went on after the backup, so the source may only have more audit rows.
        source_counts = table_counts(source, VOLATILE)
        for label, count in counts.items():
            if label in ("audit.auditentry", "audit.auditchainhead", "core.cacheentry"):
                continue
            assert count == source_counts[label], label
        restored_file = tmp_path / "target" / "files" / stored
        original = tmp_path / "source" / "files" / stored
        assert restored_file.read_bytes() == original.read_bytes()
        # The keys came along: the restored deployment uses the source's secret key.
        assert (tmp_path / "target" / "secret_key").read_text() == (
            tmp_path / "source" / "secret_key"
        ).read_text()
        verify = yuqing("audit", "verify", env=target)
        assert verify.returncode == 0, verify.stderr


@pytest.mark.slow
def test_it_refuses_a_corrupt_archive_and_a_target_with_data(tmp_path: Path) -> None:
    with child_database() as source_url, child_database() as target_url:
        source = deployment(tmp_path, "source", source_url)
        target = deployment(tmp_path, "target", target_url)
        migrate_and_seed(source)
        archive = tmp_path / "one.tar.gz"
        made = yuqing("backup", str(archive), env=source, timeout=300)
        assert made.returncode == 0, made.stderr

        # One changed byte inside a member: the gzip layer or the member checksum notices.
        flipped = tmp_path / "flipped.tar.gz"
        raw = bytearray(gzip.decompress(archive.read_bytes()))
        with tarfile.open(archive) as tar:
            member = tar.getmember(
                "database/"
                + next(n.split("/", 1)[1] for n in tar.getnames() if n.startswith("database/"))
            )
            offset = member.offset_data + member.size // 2
        raw[offset] ^= 0xFF
        flipped.write_bytes(gzip.compress(bytes(raw)))
        refused = yuqing("restore", str(flipped), env=target)
        assert refused.returncode == 1
        assert "does not match its checksum" in refused.stderr
        assert refused.stderr.count("\n") == 1  # one line, no traceback

        truncated = tmp_path / "truncated.tar.gz"
        truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
        refused = yuqing("restore", str(truncated), env=target)
        assert refused.returncode == 1
        assert "damaged or incomplete" in refused.stderr

        not_ours = tmp_path / "other.tar.gz"
        with tarfile.open(not_ours, "w:gz") as tar:
            tar.add(__file__, arcname="hello.py")
        refused = yuqing("restore", str(not_ours), env=target)
        assert refused.returncode == 1 and "not a Yuqing backup" in refused.stderr

        # Nothing was written by the refused restores.
        assert not (tmp_path / "target" / "files").exists() or not any(
            (tmp_path / "target" / "files").rglob("*.bin")
        )

        # A target with data is refused, then replaced with --force.
        assert yuqing("migrate", env=target).returncode == 0
        refused = yuqing("restore", str(archive), env=target)
        assert refused.returncode == 1
        assert "the target is not empty" in refused.stderr and "--force" in refused.stderr
        forced = yuqing("restore", "--force", str(archive), env=target, timeout=300)
        assert forced.returncode == 0, forced.stderr
        assert table_counts(target, VOLATILE)["accounts.user"] >= 7
        if source_url is None:  # SQLite: the replaced database is kept beside the new one
            assert list((tmp_path / "target").glob("yuqing.sqlite3.before-restore-*"))
            assert "was kept as" in forced.stdout


@pytest.mark.slow
def test_it_leaves_no_archive_when_the_disk_fills_up(tmp_path: Path) -> None:
    with child_database() as source_url:
        source = deployment(tmp_path, "source", source_url)
        migrate_and_seed(source)
        with tiny_filesystem(64) as small:
            result = yuqing("backup", str(small / "full.tar.gz"), env=source, timeout=300)
            left = sorted(p.name for p in small.iterdir())
        assert result.returncode == 1
        assert "No space left on device" in result.stderr
        assert "nothing was kept" in result.stderr
        assert left == []  # not even the partial file


def test_it_reads_the_major_version_of_pg_dump() -> None:
    from yuqing.core.backup import _major

    assert _major("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)") == 15
    assert _major("pg_dump (PostgreSQL) 17.2") == 17


def test_it_refuses_a_pg_dump_older_than_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from yuqing.core import backup

    monkeypatch.setattr(backup, "pg_versions", lambda db: (15, 17))
    with pytest.raises(backup.BackupError, match="postgresql-client-17"):
        backup.check_pg_client({})


def test_a_manifest_lists_every_member_with_its_checksum(tmp_path: Path) -> None:
    from yuqing.core.backup import _Writer

    data = tmp_path / "a.bin"
    data.write_bytes(b"x" * 5000)
    with tarfile.open(tmp_path / "t.tar.gz", "w:gz") as tar:
        writer = _Writer(tar)
        writer.add_file(data, "files/a.bin")
    assert writer.members == {
        "files/a.bin": {"size": 5000, "sha256": hashlib.sha256(b"x" * 5000).hexdigest()}
    }
