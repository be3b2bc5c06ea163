"""The `yuqing` command: the one entry point for running, maintaining and testing a deployment.

Django is set up only by the subcommands that need it: `classify` and `eval` run the text
engine on files with no database at all, and must start fast and work without settings.
Every failure ends as one line on stderr and a non-zero exit code, never a traceback (set
YUQING_DEBUG=1 to see the traceback of an unexpected error).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

PROG = "yuqing"

DESCRIPTION = """\
Yuqing (舆情): a school's online-affairs desk — monitoring, alerts, cases, publication review,
security checks and reports.

Start here:  yuqing run      (sets everything up and starts the site at http://127.0.0.1:8000/)
"""

EPILOG = """\
Settings come from environment variables (see README.md): DATABASE_URL, REDIS_URL, SECRET_KEY,
ALLOWED_HOSTS, YUQING_DATA_DIR, PORT, YUQING_HTTPS, EMAIL_HOST, ...

Run `yuqing COMMAND --help` for the options of one command.
"""

# Commands that hand their arguments on untouched to another program's own parser.
PASSTHROUGH = {
    "classify": "classify mentions in a JSONL file with the text engine (no database needed)",
    "eval": "measure the text engine against a labelled JSONL file",
    "proofread": "check a document (.txt .md .html .docx .xlsx .pdf) before it is published",
    "bench": "run the benchmarks and write a JSON report",
    "manage": "run a Django management command (yuqing manage help lists them)",
}


class CliError(Exception):
    """A failure we can explain in one line; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class Parser(argparse.ArgumentParser):
    command_names: list[str] = []

    def error(self, message: str) -> NoReturn:
        # One line instead of argparse's usage dump: the usage is one `--help` away.
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


# --- Django -----------------------------------------------------------------------------------


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yuqing.settings")
    import django
    from django.apps import apps

    if apps.ready:  # called in-process by tests (or twice by a command): keep what is set up
        return
    django.setup()
    from django.conf import settings

    # WhiteNoise warns at every start when STATIC_ROOT is missing, though nothing is collected
    # there (files are served from the package): create it with the other data-dir folders.
    for folder in (settings.STATIC_ROOT, settings.MEDIA_ROOT):
        Path(folder).mkdir(parents=True, exist_ok=True)


def pending_migrations() -> list[str]:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def require_migrated() -> None:
    pending = pending_migrations()
    if pending:
        raise CliError(
            f"the database is not up to date ({len(pending)} migrations to apply): run `yuqing migrate`"
        )


def migrate(*, quiet: bool = False) -> int:
    from django.core.management import call_command

    pending = pending_migrations()
    if pending:
        if not quiet:
            print(f"Updating the database: {len(pending)} migrations to apply…", flush=True)
        call_command("migrate", interactive=False, verbosity=0)
    return len(pending)


def database_label() -> str:
    from django.conf import settings
    from django.db import connection

    db = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        return f"SQLite {db['NAME']}"
    return f"{connection.vendor} {db.get('HOST') or 'localhost'}/{db.get('NAME')}"


def queue_label() -> str:
    from django.conf import settings

    if settings.REDIS_URL:
        return f"Redis, queue {settings.HUEY['name']!r}"
    return f"SQLite {settings.HUEY['filename']}"


# --- Administrators ---------------------------------------------------------------------------


def resolve_school(name: str | None) -> Any:
    """The school an administrator belongs to: named, or the only one, or a new default one."""
    from yuqing.accounts.models import School
    from yuqing.core.demo import demo_school
    from yuqing.core.tenancy import all_schools

    with all_schools():
        schools = School.objects.filter(kind=School.Kind.SCHOOL)
        if name:
            match = (
                schools.filter(slug=name).first()
                or schools.filter(name=name).first()
                or schools.filter(short_name=name).first()
            )
            if match is None:
                known = ", ".join(f"{s.slug} ({s.name})" for s in schools) or "none yet"
                raise CliError(f"no school called {name!r}; the schools are: {known}")
            return match
        demo = demo_school()
        real = schools.exclude(pk=demo.pk) if demo is not None else schools
        if real.count() == 1:
            return real.get()
        if not real.exists():
            if demo is not None:
                return demo
            # A deployment without the demo: one school to start with, renamed in the settings.
            return School.objects.create(name="本校", short_name="本校", slug="school")
        known = ", ".join(s.slug for s in schools)
        raise CliError(f"several schools exist; choose one with --school ({known})")


def ensure_admin(
    *, username: str, school: Any, reset: bool = False, superuser: bool = True
) -> tuple[Any, str | None]:
    """Create (or, with ``reset``, give a new password to) an administrator.

    Returns the user and the new password, or None when nothing was changed.
    """
    from django.db import transaction

    from yuqing.accounts.models import RoleAssignment, User
    from yuqing.core.demo import generate_password
    from yuqing.core.tenancy import all_schools, school_scope

    password = generate_password()
    with transaction.atomic(), all_schools():
        user = User.objects.filter(username=username).first()
        if user is not None and not reset:
            return user, None
        if user is None:
            user = User(username=username, school=school, display_name="管理员")
        user.is_active = True
        user.is_staff = True
        user.is_superuser = user.is_superuser or superuser
        user.set_password(password)
        user.save()
        with school_scope(user.school_id or school.pk):
            RoleAssignment.objects.get_or_create(
                user=user,
                role="admin",
                org_unit=None,
                defaults={"school_id": user.school_id or school.pk},
            )
    if reset:
        try:
            from axes.utils import reset as axes_reset

            axes_reset(username=username)  # a locked-out administrator is why people reset
        except Exception:  # noqa: S110  (lockout records are a convenience, not a blocker)
            pass
    return user, password


def existing_admin() -> Any:
    from yuqing.accounts.models import User
    from yuqing.core.tenancy import all_schools

    with all_schools():
        return User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()


# --- Commands ---------------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    setup_django()
    applied = migrate()
    print(f"Database up to date ({database_label()}); {applied} migrations applied.")
    return 0


def cmd_createadmin(args: argparse.Namespace) -> int:
    setup_django()
    require_migrated()
    username = args.username
    school_name = args.school
    if username is None and not args.no_input and sys.stdin.isatty():
        username = input("Administrator's username [admin]: ").strip() or "admin"
        if school_name is None:
            school_name = input("School (slug or name; empty for the default): ").strip() or None
    username = username or "admin"
    school = resolve_school(school_name)
    user, password = ensure_admin(username=username, school=school, reset=args.reset)
    if password is None:
        raise CliError(
            f"the user {username!r} already exists; `yuqing createadmin --reset --username {username}`"
            " gives it a new password"
        )
    verb = "New password for" if args.reset else "Created the administrator"
    print(f"{verb} {user.username!r} ({user.school}).")
    print(f"Password (shown only now, write it down): {password}")
    return 0


def print_demo_logins(result: Any, data_dir: Path) -> None:
    print(f"Demo school: {result.school.name} (under {result.bureau.name}). Demo users:")
    width = max(len(login.username) for login in result.logins)
    for login in result.logins:
        print(f"  {login.username:<{width}}  {login.password}  {login.display_name}")
    print(f"  (passwords kept in {data_dir / 'demo-passwords.txt'})")


def cmd_demo(args: argparse.Namespace) -> int:
    setup_django()
    from django.conf import settings

    from yuqing.core.demo import demo_load

    require_migrated()
    result = demo_load(data_dir=settings.DATA_DIR)
    print("Demo school loaded." if result.created_anything else "Demo school already complete.")
    print_demo_logins(result, settings.DATA_DIR)
    return 0


def cmd_publishing_verify(args: argparse.Namespace) -> int:
    from yuqing.publishing.cli import verify_main

    return verify_main(["--quiet"] if args.quiet else [])


def cmd_audit_verify(args: argparse.Namespace) -> int:
    setup_django()
    from yuqing.audit.services import audit_verify
    from yuqing.core.tenancy import all_schools

    require_migrated()
    with all_schools():
        result = audit_verify()
    if result.broken is not None:
        print(f"BROKEN: {result.broken}", file=sys.stderr)
        print(f"(checked {result.checked} entries before the break)", file=sys.stderr)
        return 1
    print(f"OK, {result.checked} entries in {result.chains} chains")
    return 0


def cmd_audit_purge(args: argparse.Namespace) -> int:
    setup_django()
    import datetime as dt

    from django.conf import settings
    from django.utils import timezone

    from yuqing.core.tasks import purge_audit_log

    require_migrated()
    days = args.days or settings.AUDIT_RETENTION_DAYS
    if days < 180:
        raise CliError("audit entries are kept at least 180 days; --days must be 180 or more")
    if args.days:
        from yuqing.audit.services import audit_purge
        from yuqing.core.tenancy import all_schools

        with all_schools():
            removed = audit_purge(older_than=timezone.now() - dt.timedelta(days=days))
    else:
        removed = purge_audit_log()
    print(f"Removed {removed} audit entries older than {days} days.")
    return 0


def terminal_progress() -> Callable[[str, int, int], None]:
    """A one-line progress display on a terminal; silent when output goes to a file or cron."""
    if not sys.stderr.isatty():
        return lambda step, done, total: None
    last: dict[str, float] = {}

    def show(step: str, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - last.get(step, 0.0) < 0.2:
            return
        last[step] = now
        percent = 100 * done // total if total else 100
        end = "\n" if done >= total else ""
        print(f"\r  {step}: {done}/{total} ({percent}%)   ", end=end, file=sys.stderr, flush=True)

    return show


def cmd_backup(args: argparse.Namespace) -> int:
    setup_django()
    from yuqing.core.backup import BackupError, backup_create

    require_migrated()
    dest = Path(args.dest or ".").expanduser().resolve()
    print(f"Backing up {database_label()} and the stored files…", flush=True)
    try:
        result = backup_create(dest=dest, progress=terminal_progress())
    except BackupError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(
            f"the backup could not be written ({_one_line(exc)}); nothing was kept"
        ) from None
    size_mb = result.size / (1024 * 1024)
    print(
        f"Backup written: {result.path} ({size_mb:.1f} MB; {result.database} database,"
        f" {result.files} files). Keep it like a password: it holds the deployment's keys."
    )
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    setup_django()
    from yuqing.core.backup import BackupError, backup_restore

    archive = Path(args.archive).expanduser().resolve()
    print(f"Restoring {archive} into {database_label()}…", flush=True)
    try:
        result = backup_restore(
            archive_path=archive, force=args.force, progress=terminal_progress()
        )
    except BackupError as exc:
        raise CliError(str(exc)) from None
    print(
        f"Restored the {result.database} database, {result.files} files and {result.secrets} keys."
    )
    for path in result.moved_aside:
        print(f"  the previous {path.name.split('.before-restore-')[0]} was kept as {path}")
    pending = pending_migrations()
    if pending:
        print(
            f"The backup is older than this version: run `yuqing migrate` ({len(pending)} to apply)."
        )
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    setup_django()
    from yuqing.accounts.models import School
    from yuqing.core.retention import policy_for, retention_run
    from yuqing.core.tenancy import all_schools

    require_migrated()
    only = [resolve_school(args.school).pk] if args.school else None
    report = retention_run(dry_run=args.dry_run, only=only)
    with all_schools():
        names = dict(School.objects.values_list("pk", "slug"))
    verb = "Would remove" if args.dry_run else "Removed"
    erase = "would erase" if args.dry_run else "erased"
    for out in report.schools:
        policy = policy_for(out.school_id)
        print(
            f"{names.get(out.school_id, out.school_id)}: {verb} {out.mentions} mentions"
            f" (older than {policy.mention_days} days; {out.kept_mentions} old ones kept as"
            f" evidence, corrected or in an open case), {out.events} empty events,"
            f" {out.fetch_logs} fetch logs (older than {policy.fetch_log_days} days);"
            f" {erase} the personal data of {out.petitions} petitions"
            f" (finished more than {policy.petition_personal_days} days ago)"
        )
    if report.partial_files:
        print(f"{verb} {report.partial_files} half-written files left by a crash.")
    if args.dry_run:
        print("Dry run: nothing was changed.")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    try:
        consumer = _make_consumer(args)
    except KeyboardInterrupt:
        # Stopped while still starting (e.g. `yuqing run` stopped at once): nothing to clean up.
        return 0
    consumer.run()
    return 0


def _make_consumer(args: argparse.Namespace) -> Any:
    setup_django()
    from django.conf import settings
    from django.db import connections
    from django.utils.module_loading import autodiscover_modules
    from huey.consumer_options import ConsumerConfig
    from huey.contrib.djhuey import HUEY

    autodiscover_modules("tasks")
    huey_settings: dict[str, Any] = settings.HUEY
    options: dict[str, Any] = dict(huey_settings.get("consumer", {}))
    if args.threads:
        options["workers"] = args.threads
    options["periodic"] = not args.no_periodic
    # Ctrl-C lets running tasks finish, but not for ever: some tasks loop for most of a minute
    # (source polling). After the timeout the worker exits and the task is retried later; tasks
    # are written so that an interrupted run loses nothing.
    options["shutdown_timeout"] = args.shutdown_timeout
    config = ConsumerConfig(**options)
    config.validate()
    consumer = HUEY.create_consumer(**config.values)
    connections.close_all()
    scheduler = "with the scheduler" if options["periodic"] else "without the scheduler"
    print(
        f"Worker started: {options['workers']} threads {scheduler}; queue {queue_label()}.",
        flush=True,
    )
    return consumer


def _set_parent_death_signal() -> None:
    # Linux: the child gets SIGTERM if `yuqing run` dies without cleaning up (kill -9), so no
    # orphaned web server keeps the port or orphaned worker keeps running tasks.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        pass


def cmd_web(args: argparse.Namespace) -> int:
    """The web server alone: `yuqing web` on a web machine, or the child of `yuqing run`.

    With ``--processes`` 0 it is waitress (one process, threads; what `yuqing run` uses by
    default, and what works on every OS). With 1 or more it is gunicorn: a master process and
    that many worker processes of ``--threads`` threads each (bureau deployments, Unix only).
    """
    setup_django()
    if args.fd is None:
        # `yuqing web`: a web machine of a larger deployment; the database is set up elsewhere.
        require_migrated()
        from django.db import connections

        connections.close_all()
        sock = _bind(args.host, args.port if args.port is not None else _env_port())
        fd = sock.fileno()
        print(
            f"Web server at http://{args.host}:{sock.getsockname()[1]}/ ({_web_label(args)})",
            flush=True,
        )
    else:
        fd = args.fd
    if args.processes:
        return _serve_gunicorn(fd, processes=args.processes, threads=args.threads)
    return _serve_waitress(fd, threads=args.threads)


def _env_port() -> int:
    from yuqing.lib.env import envint

    return envint("PORT", 8000, minimum=1, maximum=65535)


def _web_label(args: argparse.Namespace) -> str:
    if args.processes:
        return f"gunicorn, {args.processes} processes × {args.threads} threads"
    return f"waitress, {args.threads} threads"


def _serve_waitress(fd: int, *, threads: int) -> int:
    import logging

    from waitress.server import create_server

    from yuqing.wsgi import application

    logging.getLogger("waitress").setLevel(logging.WARNING)  # `yuqing run` prints the URL
    sock = socket.socket(fileno=fd)
    server = create_server(
        application, sockets=[sock], threads=threads, ident="yuqing", channel_timeout=60
    )

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.close()
        server.task_dispatcher.shutdown(timeout=5)
    return 0


def _serve_gunicorn(fd: int, *, processes: int, threads: int) -> int:
    """gunicorn on an already bound socket; SIGTERM stops it gracefully (10 s for requests)."""
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        raise CliError(
            "several web processes need gunicorn (Linux/Unix): pip install gunicorn"
        ) from None
    from django.db import connections

    connections.close_all()  # no connection may be shared by the forked processes
    options = {
        "bind": [f"fd://{fd}"],
        "workers": processes,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 60,
        "graceful_timeout": 10,
        "keepalive": 5,
        # A worker is replaced after this many requests (plus jitter): caps slow memory growth.
        "max_requests": 5000,
        "max_requests_jitter": 500,
        "proc_name": "yuqing-web",
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
    }

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from yuqing.wsgi import application

            return application

    try:
        Server().run()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CliError(
            f"cannot listen on {host}:{port} ({exc.strerror}); another program (or another"
            " `yuqing run`) uses it: set PORT to a free port"
        ) from None
    sock.listen(128)
    return sock


def _wait_until_serving(
    url: str, children: list[subprocess.Popen[bytes]], timeout: float, stopped: Callable[[], bool]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopped():
        for child in children:
            if child.poll() is not None:
                raise CliError(
                    f"a part of Yuqing stopped during start-up (exit {child.returncode})"
                )
        try:
            with urllib.request.urlopen(url + "healthz", timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    if stopped():
        return
    raise CliError(f"the web server did not answer at {url} within {timeout:.0f} seconds")


def _stop_children(children: list[subprocess.Popen[bytes]], *, timeout: float = 20) -> None:
    # The worker gets SIGINT (finish the task at hand), the web server SIGTERM; whatever is
    # still alive after the timeout is killed, so `yuqing run` never leaves orphans behind.
    for child in children:
        if child.poll() is None:
            child.send_signal(getattr(child, "stop_signal", signal.SIGTERM))
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def start_demo_internet(school: Any) -> str:
    """Serve the demo's fictional feeds on 127.0.0.1 and point the demo sources at them.

    The worker child inherits the allow-list entry for 127.0.0.1: without it the fetcher
    refuses loopback addresses, as it should for every real source.
    """
    from django.conf import settings

    from yuqing.monitor.demo.seed import seed_demo_monitoring
    from yuqing.monitor.demo.server import serve

    server, _internet = serve("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.server_port}"
    seed_demo_monitoring(school, base_url=url)
    allowed = {*settings.FETCH_ALLOW_HOSTS, "127.0.0.1"}
    os.environ["YUQING_FETCH_ALLOW_HOSTS"] = ",".join(sorted(allowed))
    return url


def _run_shape(args: argparse.Namespace) -> tuple[int, int]:
    """How many task workers and web processes `yuqing run` starts (0 web processes: waitress)."""
    if args.no_worker and args.workers:
        raise CliError("--no-worker and --workers contradict each other; choose one")
    workers = 0 if args.no_worker else (args.workers or 1)
    if args.web_processes is not None:
        web_processes = args.web_processes
    elif args.workers:
        # The bureau shape: gunicorn, two processes per core (requests wait on the database
        # as much as they compute), at most 8.
        web_processes = min(8, 2 * (os.cpu_count() or 1))
    else:
        web_processes = 0
    if workers > 1 and not _redis_configured():
        print(
            f"{PROG}: note: {workers} workers share the SQLite queue; for more than one machine"
            " set REDIS_URL (and DATABASE_URL to PostgreSQL)",
            file=sys.stderr,
        )
    return workers, web_processes


def _redis_configured() -> bool:
    from django.conf import settings

    return bool(settings.REDIS_URL)


def cmd_run(args: argparse.Namespace) -> int:
    from yuqing.lib.env import envint

    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    port = args.port if args.port is not None else envint("PORT", 8000, minimum=1, maximum=65535)
    setup_django()
    from django.conf import settings
    from django.db import connections

    from yuqing.core.demo import demo_load

    workers, web_processes = _run_shape(args)
    sock = _bind(args.host, port)
    try:
        print(f"Data directory: {settings.DATA_DIR}")
        print(f"Database: {database_label()}")
        migrate()
        demo = demo_load(data_dir=settings.DATA_DIR) if settings.DEMO else None
        demo_internet = start_demo_internet(demo.school) if demo is not None else None
        admin = existing_admin()
        admin_password = None
        if admin is None:
            school = demo.school if demo is not None else resolve_school(None)
            admin, admin_password = ensure_admin(username="admin", school=school)
    except BaseException:
        sock.close()
        raise
    connections.close_all()

    host_for_url = f"[{args.host}]" if ":" in args.host else args.host
    if args.host in ("0.0.0.0", "::"):  # noqa: S104
        host_for_url = "127.0.0.1"
    url = f"http://{host_for_url}:{port}/"
    me = [sys.executable, "-m", "yuqing.cli"]
    popen: dict[str, Any] = {"preexec_fn": _set_parent_death_signal, "start_new_session": True}
    children: list[subprocess.Popen[bytes]] = []
    received: list[int] = []

    def on_signal(signum: int, frame: Any) -> None:
        received.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        web = subprocess.Popen(  # noqa: S603
            [
                *me,
                "_web",
                "--fd",
                str(sock.fileno()),
                "--threads",
                str(args.threads),
                "--processes",
                str(web_processes),
            ],
            pass_fds=(sock.fileno(),),
            **popen,
        )
        web.stop_signal = signal.SIGTERM  # type: ignore[attr-defined]
        children.append(web)
        sock.close()  # the web server owns the socket now
        for number in range(workers):
            # Someone pressed Ctrl-C and is waiting: give running tasks 5 seconds, not 10.
            # Exactly one worker runs the scheduler, or every periodic task would run N times.
            command = [*me, "worker", "--shutdown-timeout", "5"]
            if number:
                command.append("--no-periodic")
            worker = subprocess.Popen(command, **popen)  # noqa: S603
            worker.stop_signal = signal.SIGINT  # type: ignore[attr-defined]
            children.append(worker)
        _wait_until_serving(url, children, timeout=90, stopped=lambda: bool(received))
        if received:
            return 0
        print()
        print(f"Yuqing is running at {url}")
        if admin_password is not None:
            print(f"Administrator: {admin.username}  password: {admin_password}")
            print("  (shown only this once: write it down)")
        else:
            print(
                f"Administrator {admin.username!r} exists. Forgot the password? "
                f"`yuqing createadmin --reset --username {admin.username}`"
            )
        if demo is not None:
            print_demo_logins(demo, settings.DATA_DIR)
        if demo_internet is not None:
            print(f"Demo internet (fictional feeds about the demo school): {demo_internet}")
        if not workers:
            queue = "no worker (--no-worker)"
        elif workers == 1:
            queue = f"worker and scheduler on {queue_label()}"
        else:
            queue = f"{workers} workers (one runs the scheduler) on {queue_label()}"
        print(
            f"Web server: {_web_label(argparse.Namespace(processes=web_processes, threads=args.threads))}"
        )
        print(f"Background work: {queue}")
        print("Press Ctrl-C to stop.")
        while not received:
            for child in children:
                if child.poll() is not None:
                    print(
                        f"{PROG}: a part of Yuqing stopped (exit {child.returncode}); stopping the rest",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(0.3)
        print("Stopping…")
        return 0
    finally:
        # Ignore further Ctrl-C while stopping: a second press must not leave orphans behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _stop_children(children)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:
            print("Stopped.")


# --- Pass-through commands ---------------------------------------------------------------------


def run_passthrough(command: str, rest: list[str]) -> int:
    if command == "manage":
        setup_django()
        from django.core.management import execute_from_command_line

        execute_from_command_line([f"{PROG} manage", *rest])
        return 0
    # The text engine and the benchmarks are imported only now: they are heavy, and `classify`
    # and `eval` must work with no Django settings (and no database) at all.
    entry: Callable[[list[str]], int | None]
    try:
        if command == "classify":
            from yuqing.text.cli import classify_main as entry
        elif command == "eval":
            from yuqing.text.cli import eval_main as entry
        elif command == "proofread":
            from yuqing.text.proofread.cli import proofread_main as entry
        else:
            from yuqing.bench import main as entry
    except ImportError as exc:
        raise CliError(
            f"`{PROG} {command}` is not available in this installation ({exc})"
        ) from None
    return int(entry(rest) or 0)


# --- Parser -------------------------------------------------------------------------------------


def build_parser() -> Parser:
    parser = Parser(
        prog=PROG,
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", title="commands", parser_class=Parser
    )

    p = sub.add_parser(
        "run",
        help="set up and start everything: web site, worker and scheduler",
        description=(
            "Update the database, create the demo school and an administrator when missing, then"
            " start the web server, the background worker and the scheduler. Ctrl-C stops them all."
            " Data (database, queue, uploads, keys) goes to YUQING_DATA_DIR, default ./var."
        ),
    )
    p.add_argument("--port", type=int, help="port to listen on (default: $PORT or 8000)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; 0.0.0.0 for other machines,"
        " then also set ALLOWED_HOSTS)",
    )
    p.add_argument(
        "--threads", type=int, default=8, help="web server threads (per process; default 8)"
    )
    p.add_argument(
        "--no-worker",
        action="store_true",
        help="start no worker here (when `yuqing worker` runs elsewhere with REDIS_URL)",
    )
    p.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="start N task workers (one runs the scheduler) and the web site on gunicorn;"
        " with REDIS_URL and a PostgreSQL DATABASE_URL for a bureau (see docs/scaling.md)",
    )
    p.add_argument(
        "--web-processes",
        type=_nonnegative_int,
        metavar="P",
        help="gunicorn web processes (default with --workers: 2 per core, at most 8;"
        " 0: one waitress process)",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "web",
        help="run the web site only (a web machine of a larger deployment)",
        description=(
            "Serve the web site, without migrating or starting workers (run `yuqing migrate`"
            " once, and `yuqing worker` elsewhere). --processes 1 or more: gunicorn with that"
            " many processes (Unix); 0: one waitress process."
        ),
    )
    p.add_argument("--port", type=int, help="port to listen on (default: $PORT or 8000)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--processes",
        type=_nonnegative_int,
        default=min(8, 2 * (os.cpu_count() or 1)),
        help="gunicorn worker processes (default 2 per core, at most 8; 0: waitress)",
    )
    p.add_argument("--threads", type=_positive_int, default=8, help="threads per process")
    p.set_defaults(func=cmd_web, fd=None)

    p = sub.add_parser(
        "worker",
        help="run background tasks (and the scheduler) from the queue",
        description=(
            "Take tasks off the queue and run them. Without REDIS_URL the queue is a SQLite file"
            " in the data dir (one machine). With REDIS_URL, start workers on as many machines"
            " as you like, but only one with the scheduler: give the others --no-periodic."
        ),
    )
    p.add_argument(
        "--no-periodic",
        action="store_true",
        help="do not run scheduled tasks here (another worker runs the scheduler)",
    )
    p.add_argument("--threads", type=int, help="tasks run at the same time (default from settings)")
    p.add_argument(
        "--shutdown-timeout",
        type=float,
        default=10,
        metavar="SECONDS",
        help="on Ctrl-C, wait this long for running tasks to finish (default 10)",
    )
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser(
        "migrate",
        help="create or update the database tables",
        description="Create or update the database tables. Safe to run any time.",
    )
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser(
        "createadmin",
        help="create an administrator, or give one a new password",
        description="Create an administrator with a random password, printed once.",
    )
    p.add_argument("--username", help="login name (asked for when omitted; default admin)")
    p.add_argument("--school", help="the school's slug or name (default: the only school)")
    p.add_argument(
        "--reset",
        action="store_true",
        help="the user exists: give it a new password and lift any login lockout",
    )
    p.add_argument("--no-input", action="store_true", help="never ask questions")
    p.set_defaults(func=cmd_createadmin)

    p = sub.add_parser(
        "audit",
        help="check or trim the audit log",
        description="Check the audit log's hash chains, or trim old entries.",
    )
    audit = p.add_subparsers(
        dest="audit_command", metavar="ACTION", required=True, parser_class=Parser
    )
    a = audit.add_parser(
        "verify",
        help="check that no audit entry was changed or removed",
        description="Walk every hash chain; print the first broken link and exit 1, or OK.",
    )
    a.set_defaults(func=cmd_audit_verify)
    a = audit.add_parser(
        "purge",
        help="remove entries older than the retention period",
        description="Remove entries older than YUQING_AUDIT_RETENTION_DAYS (at least 180 days)."
        " The daily worker task does this on its own.",
    )
    a.add_argument("--days", type=int, help="keep this many days (180 or more)")
    a.set_defaults(func=cmd_audit_purge)

    p = sub.add_parser(
        "backup",
        help="write the database, stored files and keys to one archive",
        description="Write a consistent snapshot of the database (SQLite backup API or pg_dump),"
        " the stored files and the data dir's keys to one .tar.gz with a manifest of checksums."
        " Safe while Yuqing runs. See docs/operations.md for a schedule.",
    )
    p.add_argument(
        "dest",
        nargs="?",
        help="archive file or folder to write it in (default: the current folder)",
    )
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser(
        "restore",
        help="restore a backup archive into this deployment",
        description="Check every checksum of ARCHIVE, then restore its database, files and keys"
        " into the database of DATABASE_URL and the data dir. Stop `yuqing run` and workers"
        " first. Refuses a target that holds data unless --force.",
    )
    p.add_argument("archive", help="the .tar.gz written by `yuqing backup`")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace existing data (SQLite files and folders are moved aside, not deleted)",
    )
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser(
        "purge",
        help="apply the schools' retention periods now (the worker does it daily)",
        description="Remove mentions and fetch logs past each school's retention period and"
        " erase the personal data of petitions finished longer ago than the school keeps it."
        " The worker runs this every night; --dry-run only counts.",
    )
    p.add_argument("--dry-run", action="store_true", help="count what would go; change nothing")
    p.add_argument("--school", help="one school (slug or name) instead of all")
    p.set_defaults(func=cmd_purge)

    p = sub.add_parser(
        "publishing",
        help="check the sign-off signatures of published content",
        description="Publication review records: `verify` checks every signature.",
    )
    publishing = p.add_subparsers(
        dest="publishing_command", metavar="ACTION", required=True, parser_class=Parser
    )
    a = publishing.add_parser(
        "verify",
        help="report any signed-off draft whose content no longer matches what was signed",
        description="Check every sign-off signature and signed content; exit 1 on a mismatch.",
    )
    a.add_argument("-q", "--quiet", action="store_true", help="print problems only")
    a.set_defaults(func=cmd_publishing_verify)

    p = sub.add_parser(
        "demo",
        help="create or complete the demo school and print its users",
        description="Create the fictional demo school, its offices and one user per role; safe to"
        " repeat (existing records are reused).",
    )
    p.set_defaults(func=cmd_demo)

    for name, text in PASSTHROUGH.items():
        sub.add_parser(name, help=text, add_help=False)

    p = sub.add_parser("_web")  # internal: the web server child of `yuqing run`
    p.add_argument("--fd", type=int, required=True)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--processes", type=int, default=0)
    p.set_defaults(func=cmd_web)
    parser.command_names = [name for name in sub.choices if not name.startswith("_")]
    # Keep the internal command out of `yuqing --help`.
    sub._choices_actions = [a for a in sub._choices_actions if a.dest != "_web"]
    return parser


def _positive_int(text: str) -> int:
    value = _nonnegative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
    return value


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0 or value > 64:
        raise argparse.ArgumentTypeError(f"must be between 0 and 64, not {text}")
    return value


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def dispatch(argv: list[str]) -> int:
    parser = build_parser()
    if not argv:
        parser.print_help()
        return 0
    commands = parser.command_names
    first = argv[0]
    if not first.startswith("-") and first not in commands and first != "_web":
        print(
            f"{PROG}: unknown command {first!r}; the commands are: "
            + ", ".join(commands)
            + f" (see `{PROG} --help`)",
            file=sys.stderr,
        )
        return 2
    if first in PASSTHROUGH:
        return run_passthrough(first, argv[1:])
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("YUQING_DEBUG", "").lower() in {"1", "true", "yes", "on"}
    try:
        return dispatch(argv)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`yuqing demo | head`): not an error worth a message.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CliError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return exc.code
    except SystemExit:
        raise
    except Exception as exc:
        if debug:
            raise
        print(f"{PROG}: {describe_error(exc)}", file=sys.stderr)
        return 1


def describe_error(exc: Exception) -> str:
    from yuqing.lib.env import ConfigError

    if isinstance(exc, ConfigError):
        return f"configuration error: {_one_line(exc)}"
    # Only look at Django's exception classes if Django was imported: `classify` never is.
    if "django" in sys.modules:
        from django.core.exceptions import ImproperlyConfigured
        from django.core.management import CommandError
        from django.db import DatabaseError, InterfaceError

        if isinstance(exc, ImproperlyConfigured):
            return f"configuration error: {_one_line(exc)}"
        if isinstance(exc, InterfaceError | DatabaseError):
            return f"database error: {_one_line(exc)} (check DATABASE_URL and that the server runs)"
        if isinstance(exc, CommandError):
            return _one_line(exc)
    if "redis" in sys.modules:
        from redis.exceptions import RedisError

        if isinstance(exc, RedisError):
            return f"queue error (Redis): {_one_line(exc)} (check REDIS_URL and that Redis runs)"
    if isinstance(exc, OSError):
        return f"{_one_line(exc)}"
    return (
        f"unexpected error: {type(exc).__name__}: {_one_line(exc)} (YUQING_DEBUG=1 shows details)"
    )


if __name__ == "__main__":
    sys.exit(main())
