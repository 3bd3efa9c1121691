"""Django settings for onefunnel.

Embedded by default: with no configuration the database is a SQLite file (WAL mode) in the
current directory, or in ``ONEFUNNEL_HOME`` when set. ``DATABASE_URL=postgresql://…`` switches to
PostgreSQL (psycopg 3). Secrets never live in the repository: ``ONEFUNNEL_SECRET_KEY`` wins,
otherwise a key is generated once into ``$ONEFUNNEL_HOME/.onefunnel-secret``.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from onefunnel.private_files import write_private

# Lets admin and queryset classes be subscripted at run time, as their type hints need.
django_stubs_ext.monkeypatch()

PACKAGE_DIR = Path(__file__).resolve().parent
HOME = Path(os.environ.get("ONEFUNNEL_HOME") or Path.cwd()).resolve()


def _secret_key() -> str:
    if key := os.environ.get("ONEFUNNEL_SECRET_KEY"):
        return key
    path = HOME / ".onefunnel-secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(50)
    try:
        HOME.mkdir(parents=True, exist_ok=True)
        write_private(path, key)  # 0600 from creation, never readable by others
    except FileExistsError:
        return path.read_text().strip()  # another process made it first: one key for all
    except OSError:
        pass  # a read-only home still runs, with a per-process key (sessions will not survive)
    return key


# Django's SQLite backend, creating a new database file with mode 0600 (onefunnel/sqlite_backend).
_SQLITE = "onefunnel.sqlite_backend"


def _database() -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL")
    if url:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
        if config["ENGINE"].endswith("postgresql"):
            config.setdefault("TEST", {})["NAME"] = os.environ.get("ONEFUNNEL_TEST_DB")
        if config["ENGINE"] == "django.db.backends.sqlite3":
            config["ENGINE"] = _SQLITE
        return config
    return {
        "ENGINE": _SQLITE,
        "NAME": HOME / "onefunnel.sqlite3",
        "OPTIONS": {
            # WAL lets the dashboard read while ingestion writes; IMMEDIATE takes the write lock
            # at BEGIN so concurrent writers wait (busy timeout) instead of failing mid-transaction.
            # A 64 MiB page cache per connection (SQLite's default is 2 MiB): storing touches
            # updates indexes keyed by random ids, whose pages would otherwise be read back from
            # the file again and again (the tracking processor is ~15 % faster on a 135 MB file).
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("ONEFUNNEL_DEBUG", "").lower() in {"1", "true", "yes"}
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get(
        "ONEFUNNEL_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver"
    ).split(",")
    if h.strip()
]
CSRF_FAILURE_VIEW = "onefunnel.api.root.csrf_failure"
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("ONEFUNNEL_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "ninja",  # its templates and packaged Swagger UI serve /api/docs offline (never its CDN)
    "onefunnel.apps.OnefunnelConfig",
]
MIGRATION_MODULES = {"onefunnel": "onefunnel.models.migrations"}

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "onefunnel.web.security.ContentSecurityPolicyMiddleware",
    "onefunnel.web.freshness.DataFreshnessMiddleware",
]

# Cookies: never readable by scripts; behind TLS (ONEFUNNEL_SECURE=1) only sent over HTTPS,
# with HSTS and the proxy's X-Forwarded-Proto trusted. CSRF protects every form (middleware).
_SECURE = os.environ.get("ONEFUNNEL_SECURE", "").lower() in {"1", "true", "yes"}
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = _SECURE
CSRF_COOKIE_SECURE = _SECURE
SECURE_HSTS_SECONDS = 31_536_000 if _SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = _SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _SECURE else None
SECURE_SSL_REDIRECT = _SECURE and os.environ.get("ONEFUNNEL_SSL_REDIRECT", "1") != "0"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

ROOT_URLCONF = "onefunnel.urls"
ASGI_APPLICATION = "onefunnel.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "web" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "onefunnel.web.context.navigation",
                "onefunnel.web.freshness.freshness",
            ],
            # The app's filters live with the web interface, not in an app's templatetags.
            "libraries": {"onefunnel": "onefunnel.web.template_tags"},
        },
    },
]

DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"  # each role's workspace (web/views_common.py)
LOGOUT_REDIRECT_URL = "web:login"
STATIC_URL = "static/"
# Only needed for `collectstatic` behind another web server; WhiteNoise serves from the package.
STATIC_ROOT = os.environ.get("ONEFUNNEL_STATIC_ROOT") or None
STATICFILES_DIRS = [PACKAGE_DIR / "web" / "static"]
# Serve admin and app assets straight from the installed packages: the embedded default must
# work without a collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

ONEFUNNEL_CURRENCY = os.environ.get("ONEFUNNEL_CURRENCY", "USD")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("ONEFUNNEL_LOG_LEVEL", "WARNING")},
}

# What a handoff's cost is: spend attributed by this model (first, last, last_non_direct, linear,
# time_decay, position, w_shaped, shapley; see onefunnel/domain/lead_cost.py) or even_split.
ONEFUNNEL_HANDOFF_COST_MODEL = os.environ.get("ONEFUNNEL_HANDOFF_COST_MODEL", "position")

# Whether each web process expands the tracking inbox in a thread of its own (True: for a plain
# `uvicorn onefunnel.asgi:application`). `onefunnel serve` turns it off in its web workers and
# runs one processor process beside them instead; `onefunnel worker --tracking` is the
# separate-deployment form.
ONEFUNNEL_TRACKING_PROCESSOR = os.environ.get("ONEFUNNEL_TRACKING_PROCESSOR", "1").lower() not in {
    "0",
    "false",
    "no",
    "off",
}

# Caches: django-ratelimit counts the tracking endpoints' browser requests here. The default,
# local memory, is per process: with `onefunnel serve --workers N` each worker counts on its own,
# so a client may send up to N times a limit. ONEFUNNEL_CACHE_URL=redis://host:6379/0 shares
# the counts (Django's Redis backend; `pip install redis`). Not the database cache: the tracking
# endpoints run on the event loop, where Django refuses synchronous database calls.
_CACHE_URL = os.environ.get("ONEFUNNEL_CACHE_URL", "")
CACHES: dict[str, dict[str, Any]] = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _CACHE_URL}
        if _CACHE_URL.startswith(("redis://", "rediss://"))
        else {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "onefunnel",
            # One entry per client address and minute: Django's default of 300 would evict
            # counts (and let a client past its limit) once a few hundred browsers are active.
            "OPTIONS": {"MAX_ENTRIES": 200_000},
        }
    )
}
RATELIMIT_USE_CACHE = "default"
# django-ratelimit's key="ip" is the client behind trusted proxies (ONEFUNNEL_TRUSTED_PROXIES).
RATELIMIT_IP_META_KEY = "onefunnel.client_address.client_ip"
# Report results are kept in that cache until the data they read changes (analytics/cache.py);
# this many seconds at most. 0 computes every report on every request.
ONEFUNNEL_REPORT_CACHE_SECONDS = int(os.environ.get("ONEFUNNEL_REPORT_CACHE_SECONDS", "3600"))
# A page may be served a result computed up to this many seconds before, saying so, while it is
# brought up to date in the background (busy installations); 0: every read sees every write.
ONEFUNNEL_REPORT_STALE_SECONDS = int(os.environ.get("ONEFUNNEL_REPORT_STALE_SECONDS", "0"))
# Requests from web pages (with an Origin): per client address and per write key ("" = off).
ONEFUNNEL_TRACKING_RATE_PER_IP = os.environ.get("ONEFUNNEL_TRACKING_RATE_PER_IP", "1200/m")
ONEFUNNEL_TRACKING_RATE_PER_KEY = os.environ.get("ONEFUNNEL_TRACKING_RATE_PER_KEY", "12000/m")

# Renewals: a renewal deal opens this many days before a contract's renewal date; auto-renewing
# contracts get one too only when ONEFUNNEL_RENEWAL_AUTO_RENEWING is on.
ONEFUNNEL_RENEWAL_LEAD_DAYS = int(os.environ.get("ONEFUNNEL_RENEWAL_LEAD_DAYS", "90"))
ONEFUNNEL_RENEWAL_AUTO_RENEWING = os.environ.get("ONEFUNNEL_RENEWAL_AUTO_RENEWING", "").lower() in {
    "1",
    "true",
    "yes",
    "on",
}

# Form submissions accepted per IP address (a django-ratelimit rate such as "10/m"), counted in
# each server process's cache.
ONEFUNNEL_FORMS_RATE = os.environ.get("ONEFUNNEL_FORMS_RATE", "10/m")
# Going cold (services/marketing/going_cold.py): days without engagement after which a lead in a
# stage goes to nurture, "stage=days,…"; empty means the defaults, consideration=30,intent=21.
ONEFUNNEL_COLD_AFTER_DAYS = os.environ.get("ONEFUNNEL_COLD_AFTER_DAYS", "")
# …and how often a looping worker sweeps for them (minutes).
ONEFUNNEL_COLD_SWEEP_MINUTES = int(os.environ.get("ONEFUNNEL_COLD_SWEEP_MINUTES", "60"))
# Segments: the worker refreshes a segment's membership history when its last refresh is older.
ONEFUNNEL_SEGMENT_REFRESH_MINUTES = int(os.environ.get("ONEFUNNEL_SEGMENT_REFRESH_MINUTES", "60"))
# Email (sequences): EMAIL_URL configures Django's email backend in one value (dj-email-url),
# e.g. smtp://user:pass@smtp.example.com:587/?tls=True, smtps://…:465, console:, dummy:.
# Without it Django's defaults apply (SMTP to localhost:25).
if os.environ.get("EMAIL_URL"):
    import dj_email_url  # type: ignore[import-untyped]

    vars().update(dj_email_url.parse(os.environ["EMAIL_URL"]))
# Where the links in emails point (unsubscribe, open pixel, tracked clicks): this server's
# public address. At most this many emails a minute go to one recipient domain.
ONEFUNNEL_PUBLIC_URL = os.environ.get("ONEFUNNEL_PUBLIC_URL", "http://localhost:8000").rstrip("/")
ONEFUNNEL_EMAIL_PER_DOMAIN_PER_MINUTE = int(
    os.environ.get("ONEFUNNEL_EMAIL_PER_DOMAIN_PER_MINUTE", "30")
)
# Inbound mail (replies, bounces, complaints): the largest message read whole; a larger one is
# read by its headers alone (`onefunnel email receive`) or refused with 413 (the API).
ONEFUNNEL_INBOUND_MAX_BYTES = int(
    os.environ.get("ONEFUNNEL_INBOUND_MAX_BYTES", str(10 * 1024 * 1024))
)
# A monitored IMAP folder the worker reads each pass (imaps://user:password@host:993/INBOX).
ONEFUNNEL_INBOUND_IMAP_URL = os.environ.get("ONEFUNNEL_INBOUND_IMAP_URL", "")
# The client's address behind a load balancer: the proxies (IPs or CIDR networks, comma-separated)
# whose X-Forwarded-For is believed. Empty (the default) trusts no proxy: REMOTE_ADDR is the client.
ONEFUNNEL_TRUSTED_PROXIES = [
    p.strip() for p in os.environ.get("ONEFUNNEL_TRUSTED_PROXIES", "").split(",") if p.strip()
]
for _proxy in ONEFUNNEL_TRUSTED_PROXIES:
    try:  # a typo fails at start, not on every request
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"ONEFUNNEL_TRUSTED_PROXIES: {_proxy!r} is not an IP address or network"
        ) from None
