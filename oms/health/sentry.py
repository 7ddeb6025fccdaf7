"""Error reports to Sentry (sentry-sdk), on only when `SENTRY_DSN` is set.

The Django integration reports exceptions in requests; its logging
integration reports every record at ERROR and above, which is how a failed
background job reaches Sentry (the task engine logs it with its traceback).
Every event is tagged with the request id (`core.request_id`), the request's
or the one its job carried. No personal data is sent (`send_default_pii`
off: no user, cookies, or client address).
"""

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

    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration()],
        environment=environment or None,
        release=release or None,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        before_send=_request_id_tag,
    )
