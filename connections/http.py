"""One bounded HTTP request to a shop, and what its answer means for the
message: sent, retry later, or give up (until someone replays it)."""

import contextlib
import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

# What the attempt log keeps of an answer.
RESPONSE_EXCERPT = 2000
# What is read of an answer at most (a shop's JSON is far smaller).
MAX_RESPONSE_BYTES = 1024 * 1024
# Codes that say "not now" rather than "never".
RETRYABLE_CODES = {408, 409, 425, 429, 500, 502, 503, 504}


def timeout_seconds() -> float:
    """Connecting and each read wait at most this long (`OMS_OUTBOX_TIMEOUT`)."""
    return float(getattr(settings, "OMS_OUTBOX_TIMEOUT", 10))


@dataclass
class Answer:
    """A shop's answer to one request (code None: no answer at all)."""

    request: str
    code: int | None = None
    body: bytes = b""
    error: str = ""
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.code is not None and 200 <= self.code < 300

    @property
    def retryable(self) -> bool:
        return self.code is None or self.code in RETRYABLE_CODES or self.code >= 500

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def excerpt(self) -> str:
        return self.body[:RESPONSE_EXCERPT].decode(errors="replace")


class SendError(Exception):
    """The message was not delivered; `retry` says whether trying again helps."""

    def __init__(self, message: str, *, retry: bool, answer: Answer | None = None):
        super().__init__(message)
        self.retry = retry
        self.answer = answer


class NotConnected(SendError):
    """The channel is not connected to a shop (a demo channel): the message is
    parked as *not connected*, not failed, until the channel is connected and
    the message replayed."""

    def __init__(self, message: str):
        super().__init__(message, retry=False)


@dataclass
class Outcome:
    """What one attempt achieved, with the answers of the requests it made."""

    answers: list[Answer] = field(default_factory=list)
    remote_id: str = ""
    sent_quantity: int | None = None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (a failure), never a second request elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None


def request(
    method: str,
    url: str,
    *,
    payload: Any = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """Make one request, bounded by the timeout; never raise for a bad answer."""
    if payload is not None:
        body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {
        "Accept": "application/json",
        "User-Agent": "OMS-outbox/1",
        **({"Content-Type": "application/json"} if body is not None else {}),
        **(headers or {}),
    }
    answer = Answer(request=f"{method} {url}"[:300])
    try:
        prepared = urllib.request.Request(
            url, data=body, headers=headers, method=method
        )
        with _opener.open(prepared, timeout=timeout_seconds()) as response:
            answer.code = response.status
            answer.body = response.read(MAX_RESPONSE_BYTES)
    except urllib.error.HTTPError as error:
        answer.code = error.code
        answer.retry_after = _retry_after(error.headers.get("Retry-After"))
        with contextlib.suppress(OSError, http.client.HTTPException):
            answer.body = error.read(MAX_RESPONSE_BYTES)
        error.close()
        answer.error = f"HTTP {error.code} {error.reason}"
    except (urllib.error.URLError, http.client.HTTPException, OSError) as failure:
        reason = getattr(failure, "reason", failure)
        answer.error = f"{type(failure).__name__}: {reason}"
    except ValueError as failure:  # a URL urllib cannot take
        answer.error = f"{type(failure).__name__}: {failure}"
    return answer


def shop_base_url(channel) -> str:
    """Return the shop's base URL (https unless the domain names a scheme).

    A domain under `.invalid` (the demo's) is never called: the message is
    parked at once as not connected (`NotConnected`).
    """
    domain = (getattr(channel, "shop_domain", "") or "").strip().rstrip("/")
    if not domain:
        raise SendError(
            f"Channel {channel.code} has no shop domain: connect it to its shop "
            f"(manage.py channel_connect {channel.code} …), then replay.",
            retry=False,
        )
    if "://" not in domain:
        # Shops are called over https; only a test points this at http.
        domain = f"{getattr(settings, 'OMS_SHOP_URL_SCHEME', 'https')}://{domain}"
    host = urlsplit(domain).hostname or ""
    if host == "invalid" or host.endswith(".invalid"):
        raise NotConnected(
            f"Not sent: {host} is a placeholder, not a shop. Channel "
            f"{channel.code} is not connected (a demo channel); connect it to a "
            f"real shop (manage.py channel_connect {channel.code} …), then replay."
        )
    return domain


def access_token(channel) -> str:
    token = (getattr(channel, "access_token", "") or "").strip()
    if not token:
        raise SendError(
            f"Channel {channel.code} has no access token: set it (channel_connect "
            f"{channel.code} --access-token …, or the channel's admin page), then "
            "replay.",
            retry=False,
        )
    return token
