"""The settings of running the OMS: the shared cache, files (static and
stored), retention, logs and observability (health, metrics, Sentry),
imported by oms/settings.py."""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from whitenoise.compress import Compressor

from oms.settings_env import BASE_DIR, DEBUG

# The shared cache (core/cache.py; docs/operations.md "Caches"): one for
# every process. PostgreSQL (Django's database cache, its table made by
# `migrate`) unless REDIS_URL names a Redis server. API rate limits count
# here, so they hold across processes and machines.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Every call has a timeout: a stuck Redis fails the request fast.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "oms_cache",
            # Rate counters (one per API key and per customer-page client
            # address) and a few small values: expired rows are culled past this.
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

# ---- Files

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
# The project's own static files (the admin's scripts and styles, the
# customer page's, the documents'), shipped inside the `oms` package so that
# `pip install .` carries them; not named `static`, which Django's app finder
# would list a second time.
STATICFILES_DIRS = [BASE_DIR / "oms" / "assets"]
# Files the system keeps (labels, scan forms, print batches, import files) go
# through Django's storage API: a private folder (MEDIA_ROOT) by default, an
# S3-compatible bucket with OMS_STORAGE=s3 (docs/operations.md). They are
# never served from a public URL: the views that check permissions stream
# them, so there is no MEDIA_URL.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or BASE_DIR / "media")
OMS_STORAGE = os.environ.get("OMS_STORAGE", "filesystem")
if OMS_STORAGE == "filesystem":
    DEFAULT_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": None},
    }
elif OMS_STORAGE == "s3":
    from botocore.config import Config as S3Config

    S3_TIMEOUT = float(os.environ.get("AWS_S3_TIMEOUT", "10"))
    DEFAULT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ.get("AWS_STORAGE_BUCKET_NAME", ""),
            "access_key": os.environ.get("AWS_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("AWS_SECRET_ACCESS_KEY") or None,
            "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
            # Another S3-compatible service (MinIO, Ceph, R2…): its address.
            "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
            "location": os.environ.get("AWS_LOCATION", ""),
            # Private objects; a name written twice is never overwritten.
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
            # Every call to the bucket is bounded (seconds).
            "client_config": S3Config(
                connect_timeout=S3_TIMEOUT,
                read_timeout=S3_TIMEOUT,
                retries={"max_attempts": 3},
            ),
        },
    }
    if not DEFAULT_STORAGE["OPTIONS"]["bucket_name"]:
        raise ImproperlyConfigured(
            "OMS_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME (docs/operations.md)."
        )
else:
    raise ImproperlyConfigured(
        f"OMS_STORAGE must be 'filesystem' or 's3', not {OMS_STORAGE!r}."
    )
STORAGES = {
    "default": DEFAULT_STORAGE,
    # Outside debug, whitenoise serves hashed, compressed files from
    # STATIC_ROOT (run `manage.py collectstatic` when deploying).
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Source maps (Swagger UI's, from the sidecar) are read only by a developer's
# browser tools: not worth compressing at every collectstatic.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = (*Compressor.SKIP_COMPRESS_EXTENSIONS, "map")

# Retention (days; 0 keeps forever): applied inbound and delivered outbound
# messages, sent customer e-mails, finished import and print jobs with their
# files, scan form PDFs and voided labels' files. A bought label is kept for
# the later of its channel's return window and OMS_RETENTION_CLAIM_DAYS after
# delivery, and while its order has an open return (returns/services/retention.py).
OMS_RETENTION_INBOX_DAYS = int(os.environ.get("OMS_RETENTION_INBOX_DAYS", "30"))
OMS_RETENTION_OUTBOX_DAYS = int(os.environ.get("OMS_RETENTION_OUTBOX_DAYS", "30"))
OMS_RETENTION_EMAIL_DAYS = int(os.environ.get("OMS_RETENTION_EMAIL_DAYS", "90"))
OMS_RETENTION_JOB_DAYS = int(os.environ.get("OMS_RETENTION_JOB_DAYS", "30"))
OMS_RETENTION_FILE_DAYS = int(os.environ.get("OMS_RETENTION_FILE_DAYS", "90"))
OMS_RETENTION_CLAIM_DAYS = int(os.environ.get("OMS_RETENTION_CLAIM_DAYS", "180"))

# ---- Logs

# Logs go to the console (stderr), each record with the request id of the
# request or job it belongs to (core.request_id): one JSON object a line
# ("json", the default with DEBUG off, for a log collector) or plain text
# ("text", the default in DEBUG, for a person at a terminal).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEBUG else "json")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(
        f"LOG_FORMAT must be 'json' or 'text', not {LOG_FORMAT!r}."
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.request_id.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
            },
        },
        "text": {"format": "%(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # One line per task start and finish drowns the console; keep failures.
        "procrastinate": {"level": "WARNING"},
        # django-axes logs every login; keep its warnings (lockouts).
        "axes": {"level": "WARNING"},
        # WeasyPrint reports each rendering step at INFO; keep its warnings only.
        "weasyprint": {"level": "WARNING"},
    },
}

# ---- Observability (docs/operations.md): /health/live, /health/ready,
# /metrics, Sentry.

# /health/ready answers 503 past these (0 = no limit): jobs waiting, seconds
# the oldest due job has waited, workers beating at least (when tasks go to
# a worker), seconds the oldest unprocessed inbound message has waited. The
# outbox's most overdue message past OMS_HEALTH_OUTBOX_OVERDUE_MAX_SECONDS is
# a warning only (a shop may be down), as are failed messages and dead workers.
OMS_HEALTH_QUEUE_DEPTH_MAX = int(os.environ.get("OMS_HEALTH_QUEUE_DEPTH_MAX", "10000"))
OMS_HEALTH_QUEUE_WAIT_MAX_SECONDS = float(
    os.environ.get("OMS_HEALTH_QUEUE_WAIT_MAX_SECONDS", "900")
)
OMS_HEALTH_WORKERS_MIN = int(os.environ.get("OMS_HEALTH_WORKERS_MIN", "1"))
OMS_HEALTH_INBOX_WAIT_MAX_SECONDS = float(
    os.environ.get("OMS_HEALTH_INBOX_WAIT_MAX_SECONDS", "900")
)
OMS_HEALTH_OUTBOX_OVERDUE_MAX_SECONDS = float(
    os.environ.get("OMS_HEALTH_OUTBOX_OVERDUE_MAX_SECONDS", "3600")
)
# /metrics answers a scraper sending `Authorization: Bearer <token>`; without
# a token it is open in DEBUG only (404 otherwise).
OMS_METRICS_TOKEN = os.environ.get("OMS_METRICS_TOKEN", "")
# Errors in requests and jobs go to Sentry when SENTRY_DSN is set.
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    from oms.health.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=os.environ.get("SENTRY_ENVIRONMENT", ""),
        release=os.environ.get("SENTRY_RELEASE", ""),
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0")),
    )
