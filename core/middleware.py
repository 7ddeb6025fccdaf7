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

from django.contrib import messages
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext

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
