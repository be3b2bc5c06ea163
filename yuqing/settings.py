"""Django settings for Yuqing. Everything comes from the environment (see README)."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

from yuqing.lib.datadir import ensure_dir, read_or_create_secret
from yuqing.lib.env import ConfigError, envbool, envint, envlist, envsecret, envstr

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(envstr("YUQING_DATA_DIR", str(BASE_DIR / "var"))).resolve()
ensure_dir(DATA_DIR)

DEBUG = envbool("YUQING_DEBUG", False)
# Behind HTTPS (a real deployment) every cookie is Secure and HSTS is sent. Off for the
# demo on http://127.0.0.1, where Secure cookies would make logging in impossible.
HTTPS = envbool("YUQING_HTTPS", False)

SECRET_KEY = envsecret("SECRET_KEY") or read_or_create_secret(DATA_DIR / "secret_key")
if len(SECRET_KEY) < 32:
    raise ConfigError("SECRET_KEY must be at least 32 characters long")

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:{}".format(envint("PORT", 8000)))

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "csp",
    "django_htmx",
    "huey.contrib.djhuey",
    "yuqing.core",
    "yuqing.accounts",
    "yuqing.audit",
    "yuqing.monitor",
    "yuqing.alerts",
    "yuqing.cases",
    "yuqing.publishing",
    "yuqing.security",
    "yuqing.duty",
    "yuqing.reports",
    "yuqing.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "yuqing.core.middleware.RequestContextMiddleware",
    "yuqing.core.diskfull.DiskFullMiddleware",
    # Last: it needs the user and records failed logins after everything else ran.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "yuqing.urls"
WSGI_APPLICATION = "yuqing.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "yuqing" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "yuqing.core.context_processors.navigation",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
# SQLite in WAL mode by default; PostgreSQL (or another server) when DATABASE_URL says so.
DATABASE_URL = envstr("DATABASE_URL")
if DATABASE_URL:
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    except ValueError as exc:
        raise ConfigError(f"DATABASE_URL cannot be parsed: {exc}") from None
    DATABASES["default"].setdefault("TEST", {})
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "yuqing.sqlite3"),
            "OPTIONS": {
                # IMMEDIATE: a write transaction takes the lock at BEGIN, so two writers queue
                # on busy_timeout instead of one failing with "database is locked" on upgrade.
                "transaction_mode": "IMMEDIATE",
                # Seconds a writer waits for the lock. A worker's batch holds it for a few
                # seconds; under heavy load (tests/test_faults_sqlite.py: six people writing
                # while batches are stored back to back) a web write waited up to 15-20 s.
                "timeout": 60,
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA foreign_keys=ON;"
                    "PRAGMA temp_store=MEMORY;"
                    "PRAGMA mmap_size=134217728;"
                ),
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Background work (Huey) ---------------------------------------------------------------
REDIS_URL = envstr("REDIS_URL")
HUEY_IMMEDIATE = envbool("YUQING_HUEY_IMMEDIATE", False)
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.PriorityRedisHuey",
        "name": envstr("YUQING_QUEUE_NAME", "yuqing"),
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "utc": True,
        "consumer": {
            "workers": envint("YUQING_WORKER_THREADS", 4, minimum=1),
            "worker_type": "thread",
            # A worker killed while it held a task lock (the minute's source poll) would keep
            # it for ever, and nothing would be polled again: a starting worker clears them.
            # Clearing a lock another live worker holds is harmless, as sources are claimed
            # one by one (monitor/poller.py); tests/test_faults_worker.py.
            "flush_locks": True,
        },
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "yuqing",
        "filename": str(DATA_DIR / "queue.sqlite3"),
        "immediate": HUEY_IMMEDIATE,
        "utc": True,
        "consumer": {
            "workers": envint("YUQING_WORKER_THREADS", 4, minimum=1),
            "worker_type": "thread",
            # A worker killed while it held a task lock (the minute's source poll) would keep
            # it for ever, and nothing would be polled again: a starting worker clears them.
            # Clearing a lock another live worker holds is harmless, as sources are claimed
            # one by one (monitor/poller.py); tests/test_faults_worker.py.
            "flush_locks": True,
        },
    }

# --- Accounts and security -----------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # Ours: Django's own, with a message its Chinese catalog actually translates.
    {"NAME": "yuqing.accounts.validators.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "yuqing.accounts.validators.CharacterClassValidator"},
]

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AXES_FAILURE_LIMIT = envint("YUQING_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = envint("YUQING_LOGIN_COOLOFF_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Our own response: it states the cool-off in minutes, which the plain template cannot.
AXES_LOCKOUT_CALLABLE = "yuqing.accounts.views.locked_out"
AXES_USERNAME_CALLABLE = "yuqing.accounts.views.lockout_username"
AXES_VERBOSE = False

SESSION_COOKIE_AGE = envint("YUQING_SESSION_HOURS", 12, minimum=1) * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = HTTPS and envbool("YUQING_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if envbool("YUQING_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

# No inline scripts or styles anywhere: every page keeps this policy.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

OTP_TOTP_ISSUER = envstr("YUQING_OTP_ISSUER", "Yuqing 舆情")

# --- Internationalisation ----------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "yuqing" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files -----------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# Project-wide assets (layout, icons, vendored htmx and ECharts); apps keep their own static/.
STATICFILES_DIRS = [BASE_DIR / "yuqing" / "static"]
MEDIA_ROOT = DATA_DIR / "files"
STORAGES = {
    # Written to a temporary name and renamed: a full disk never leaves half a file (lib/storage).
    "default": {"BACKEND": "yuqing.lib.storage.AtomicFileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Serve straight from the package: no collectstatic step before `yuqing run`.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Mail -----------------------------------------------------------------------------------
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envsecret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = 20
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "yuqing@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if not envstr("EMAIL_HOST"):
    # No mail server configured: keep messages in the data dir instead of failing.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(DATA_DIR / "outbox")

# --- Product settings -------------------------------------------------------------------------
AUDIT_RETENTION_DAYS = envint("YUQING_AUDIT_RETENTION_DAYS", 365, minimum=180)
DEMO = envbool("YUQING_DEMO", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("YUQING_LOG_LEVEL", "INFO")},
    "loggers": {
        "huey": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
    },
}

# --- Collection -------------------------------------------------------------------------------
# Hosts that may be fetched although they resolve to private or loopback addresses (the demo
# internet and the tests use 127.0.0.1). Everything else private is refused, after redirects too.
FETCH_ALLOW_HOSTS = envlist("YUQING_FETCH_ALLOW_HOSTS")
FETCH_TIMEOUT_SECONDS = envint("YUQING_FETCH_TIMEOUT", 30, minimum=1, maximum=300)
FETCH_MAX_BYTES = envint("YUQING_FETCH_MAX_MB", 10, minimum=1, maximum=200) * 1024 * 1024
FETCH_HOST_SPACING_MS = envint("YUQING_FETCH_HOST_SPACING_MS", 500, minimum=0)
# A self-hosted RSSHub (its default port); public instances are often unreachable from school
# intranets and rate-limit heavily.
RSSHUB_BASE_URL = envstr("YUQING_RSSHUB_URL", "http://127.0.0.1:1200")
FETCH_LOG_RETENTION_DAYS = envint("YUQING_FETCH_LOG_DAYS", 30, minimum=1)

# --- Security inspection ----------------------------------------------------------------------
# A school's or bureau's own CA (PEM file) for intranet certificates, trusted beside the system's.
SECURITY_TLS_CA_FILE = envstr("YUQING_SECURITY_TLS_CA_FILE")
# Seconds between two connection attempts of the port check on one asset (rate limit).
SECURITY_PORT_SPACING = envint("YUQING_SECURITY_PORT_SPACING_MS", 20, minimum=0) / 1000

# --- Cache ------------------------------------------------------------------------------------
# Shared by every process (web workers, the task worker), so limits such as the public petition
# form's rate limit count across all of them, not per process. Redis when the deployment has it;
# otherwise the database cache: it needs nothing new to run, is shared by processes on one
# machine and by several machines (a bureau running many web servers), and its table is created
# by yuqing/core/migrations/0001_cache_table.py, so `migrate` is all an install needs.
CACHE_TABLE = "yuqing_cache"
CACHES: dict[str, dict[str, object]]
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": envstr("YUQING_QUEUE_NAME", "yuqing"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": CACHE_TABLE,
            "OPTIONS": {"MAX_ENTRIES": 20000},
        }
    }
