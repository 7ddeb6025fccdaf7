"""A database that cannot finish a request answers "try again", never a 500.

PostgreSQL refuses a transaction now and then for reasons that pass: a
deadlock it broke, a serialization failure, a lock it waited too long for, a
statement cancelled by its timeout, a connection that dropped. Django raises
`OperationalError` (or `InterfaceError` for a connection already closed);
the transaction is rolled back by the time the view lets it go. What the
person or machine at the other end needs is to send the request again:

- a client that asks for JSON (`/api/`, the scanner pages' endpoints, any
  request sending or accepting `application/json`) gets a 503 with
  `Retry-After` and `{"ok": false, "error": ..., "retry": true,
  "retry_after": seconds}`;
- a form posted in the admin goes back to the page it came from, with the
  message at the top;
- any other page is a 503 page with the message and a link to load it again,
  rendered without the database (it may be the thing that is gone).
"""

import logging

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext

from core.json_body import too_deep_message

logger = logging.getLogger(__name__)

# Seconds a client waits before sending the request again: what passes (a
# broken deadlock, a lock released) passes within that.
RETRY_AFTER_SECONDS = 2
DATABASE_ERRORS = (OperationalError, InterfaceError)
JSON = "application/json"


def try_again_message() -> str:
    """Return what the person is told when the database could not finish."""
    return gettext(
        "The database could not finish this just now (it was busy with other "
        "work, or its connection dropped), so it was not saved. Try again in a "
        "moment."
    )


def wants_json(request: HttpRequest) -> bool:
    """Whether the request comes from a client that reads JSON answers."""
    return (
        request.path.startswith("/api/")
        or JSON in request.headers.get("Accept", "")
        or request.content_type == JSON
    )


def _admin_root() -> str | None:
    try:
        return reverse("admin:index")
    except NoReverseMatch:
        return None


def _back(request: HttpRequest) -> str:
    """The page a form was posted from, when it is on this site; else the
    page itself."""
    referer = request.headers.get("Referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    return request.get_full_path()


class TryAgainMiddleware:
    """Answer a request whose database work failed for a passing reason with
    "try again" (see the module's docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not isinstance(exception, DATABASE_ERRORS):
            return None
        logger.warning(
            "database could not finish %s %s: %s; answered try again",
            request.method,
            request.path,
            str(exception).strip().splitlines()[0] if str(exception) else "",
            exc_info=exception,
        )
        message = try_again_message()
        if wants_json(request):
            response = JsonResponse(
                {
                    "ok": False,
                    "error": message,
                    "retry": True,
                    "retry_after": RETRY_AFTER_SECONDS,
                },
                status=503,
            )
        elif request.method not in ("GET", "HEAD") and (
            (root := _admin_root()) and request.path.startswith(root)
        ):
            messages.error(request, message, fail_silently=True)
            return redirect(_back(request))
        else:
            response = HttpResponse(
                render_to_string(
                    "try_again.html",
                    {"message": message, "again": request.get_full_path()},
                ),
                status=503,
            )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


# Paths answered by machines' clients: every error there is JSON.
API_PREFIX = "/api/"
# Headers a rewritten error keeps its own of (the rest are copied over).
_BODY_HEADERS = frozenset({"content-type", "content-length"})


def body_limit_message() -> str:
    """Return what a client is told when its body is over the size limit."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return gettext(
        "The body is larger than %(limit)s bytes (%(megabytes)s MB), the most "
        "this server takes; send less in one request (fewer orders or lines)."
    ) % {"limit": limit, "megabytes": f"{limit / (1024 * 1024):g}"}


def _status_message(request: HttpRequest, response: HttpResponse) -> str:
    status = response.status_code
    if status == 404:
        return gettext(
            "Nothing is at %(path)s. The order API's addresses are listed at "
            "/api/v1/docs/."
        ) % {"path": request.path}
    if status == 405:
        return gettext("%(method)s is not allowed at %(path)s; use %(allowed)s.") % {
            "method": request.method,
            "path": request.path,
            "allowed": response.get("Allow") or gettext("another method"),
        }
    if status == 413:
        return body_limit_message()
    if status >= 500:
        return gettext(
            "Something went wrong on our side and the request was not finished "
            "(it has been logged). Try again later; if it keeps failing, tell us "
            "the address and the time."
        )
    if status in (401, 403):
        return gettext(
            "Not allowed: send the channel's API key as 'Authorization: Bearer "
            "<key>', or sign the webhook with the channel's secret."
        )
    return gettext(
        "The request could not be read (its address, a header or the body is "
        "malformed); check it against the documentation at /api/v1/docs/."
    )


def json_error(status: int, message: str) -> JsonResponse:
    """Return the JSON error every `/api/` refusal answers with."""
    return JsonResponse({"detail": message}, status=status)


class ApiJsonMiddleware:
    """Under `/api/` every error is JSON, whatever raised it.

    Before the view: a NUL (`%00`) in the address is a 400, a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE a 413 (Django's own answer would be an HTML
    400). A view that raises RequestDataTooBig gets the 413 too, one that
    raises RecursionError (JSON nested past what Python reads) a 400. After
    the view: an error answered as HTML (Django's 404, 405, 500 pages, a 400
    for a bad Host) is answered again as `{"detail": message}` with the same
    status and headers. Placed before TryAgainMiddleware, whose 503 comes
    first. Bodies are read and checked by `core.json_body`.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        response = self._refusal(request) or self.get_response(request)
        if response.status_code < 400 or _is_json(response):
            return response
        return _as_json(response, _status_message(request, response))

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not request.path_info.startswith(API_PREFIX):
            return None
        if isinstance(exception, RequestDataTooBig):
            return json_error(413, body_limit_message())
        if isinstance(exception, RecursionError):
            logger.warning("%s %s: %s", request.method, request.path, exception)
            return json_error(400, too_deep_message())
        return None

    def _refusal(self, request: HttpRequest) -> HttpResponse | None:
        if "\x00" in request.path_info or "%00" in request.META.get("QUERY_STRING", ""):
            return json_error(
                400,
                gettext(
                    "The address holds a NUL character (%00); no order, SKU or "
                    "channel has one. Remove it from the address."
                ),
            )
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit():
            return json_error(
                400,
                gettext("The Content-Length header is not a number of bytes."),
            )
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and int(length) > limit:
            return json_error(413, body_limit_message())
        return None


def _is_json(response: HttpResponse) -> bool:
    content_type = response.get("Content-Type", "").split(";")[0].strip()
    return content_type == JSON or content_type.endswith("+json")


def _as_json(response: HttpResponse, message: str) -> JsonResponse:
    """`response` answered again as a JSON error (status and headers kept)."""
    answer = json_error(response.status_code, message)
    for name, value in response.items():
        if name.lower() not in _BODY_HEADERS:
            answer[name] = value
    answer.cookies = response.cookies
    if hasattr(response, "close"):
        response.close()
    return answer
