"""The WSGI application: `/api/` through a lean middleware stack.

Everything under `/api/` (shop webhooks, carrier tracking, the order API and
its docs) is called by machines that sign their requests or send an API key:
no browser session, no login, no cookie. Those requests skip the middleware
that only serves a browser session (sessions, CSRF, the logged-in user,
messages, the field-history user, login lockouts), which is most of what a
webhook's acknowledgement would otherwise cost. They keep what protects every
response (`API_MIDDLEWARE`): the request id and the request timings
(docs/operations.md, "Observability"), SecurityMiddleware (HTTPS redirect, HSTS,
nosniff), ApiJsonMiddleware (every error under `/api/` is JSON: a body
over the limit a 413, a NUL in the address a 400, Django's 404/405/500
pages as JSON), the Content Security Policy (the docs page is HTML),
CommonMiddleware (the ALLOWED_HOSTS check, Content-Length, APPEND_SLASH),
XFrameOptionsMiddleware and TryAgainMiddleware (a deadlock or a dropped
connection answers a JSON 503 with Retry-After).

CSRF protection guards a session cookie; without the session middleware an
`/api/` view cannot authenticate by cookie, so there is nothing to forge.
A view under `/api/` that needs `request.user` or a session does not belong
there. Every other path goes through `settings.MIDDLEWARE` in full.
"""

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

# The prefix of the paths served by the lean stack (PATH_INFO, after any
# SCRIPT_NAME).
API_PREFIX = "/api/"
# The middleware kept for `/api/` (in the order settings.MIDDLEWARE gives).
API_MIDDLEWARE = frozenset(
    {
        "core.request_id.RequestIdMiddleware",
        "oms.health.metrics.RequestMetricsMiddleware",
        "django.middleware.security.SecurityMiddleware",
        "core.middleware.ApiJsonMiddleware",
        "oms.csp.ContentSecurityPolicyMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
        "core.middleware.TryAgainMiddleware",
    }
)
# The middleware left out for `/api/`: a browser session's (and static files,
# none of which lives under /api/). Every entry of settings.MIDDLEWARE is in
# one of the two sets (tests/test_wsgi.py checks), so a new middleware is
# placed on purpose.
BROWSER_MIDDLEWARE = frozenset(
    {
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "pghistory.middleware.HistoryMiddleware",
        "axes.middleware.AxesMiddleware",
    }
)


def api_middleware() -> list[str]:
    """settings.MIDDLEWARE without the browser session's middleware."""
    return [path for path in settings.MIDDLEWARE if path in API_MIDDLEWARE]


class ApiHandler(WSGIHandler):
    """Django's WSGI handler with `api_middleware()` as its middleware."""

    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler builds its chain from settings.MIDDLEWARE: it is given
        # the lean list for this one call, made once as the process starts.
        everything = settings.MIDDLEWARE
        settings.MIDDLEWARE = api_middleware()
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = everything


class Dispatcher:
    """Send `/api/` to the lean handler and every other path to the full one."""

    def __init__(self, full: WSGIHandler, api: WSGIHandler) -> None:
        self.full = full
        self.api = api

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith(API_PREFIX):
            return self.api(environ, start_response)
        return self.full(environ, start_response)
