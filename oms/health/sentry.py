"""Error reports to Sentry (sentry-sdk), on only when `SENTRY_DSN` is set.

The Django integration reports exceptions in requests; the logging
integration reports every record at ERROR and above (sentry-sdk 2's default,
said explicitly as sentry-sdk 3 no longer does); a failed background job is
reported by the engine's hook (`job_error_report`, oms.health.queue), once
even when the engine logs it too (Sentry drops the same exception twice).
Every event is tagged with the request id (`core.request_id`), the request's
or the one its job carried. No personal data is sent (`send_default_pii`
off: no user, cookies, or client address).
"""

import logging
import sys

from core.request_id import request_id_current


def _request_id_tag(event: dict, hint: dict) -> dict:
    request_id = request_id_current()
    if request_id:
        tags = event.get("tags")
        if not isinstance(tags, dict):
            tags = event["tags"] = dict(tags or {})
        tags["request_id"] = request_id
    return event


def sentry_init(
    *, dsn: str, environment: str, release: str, traces_sample_rate: float
) -> None:
    """Start reporting to `dsn` (called by the settings when it is set)."""
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[
            DjangoIntegration(),
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
        ],
        environment=environment or None,
        release=release or None,
        traces_sample_rate=traces_sample_rate,
        before_send=_request_id_tag,
        **_no_personal_data(sentry_sdk.VERSION),
    )


def _no_personal_data(version: str) -> dict:
    """No user, client address, cookies or request bodies: sentry-sdk 2's
    `send_default_pii=False`, said in sentry-sdk 3's `data_collection`."""
    if int(version.split(".")[0]) < 3:
        return {"send_default_pii": False}
    return {
        "data_collection": {
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_bodies": [],
        }
    }


def job_error_report() -> None:
    """Report the exception being handled (a job's failure) to Sentry, when
    Sentry is on; tagged with the job's request id."""
    error = sys.exc_info()[1]
    if error is None:
        return
    import sentry_sdk

    sentry_sdk.capture_exception(error)
