"""The Content Security Policy header (django-csp), as the OMS needs it.

The policy itself is `CONTENT_SECURITY_POLICY` in the settings. Two things
are added per response here, through django-csp's documented extension point
(`CSPMiddleware.get_policy_parts`):

- every HTML page's policy carries a fresh nonce, so a template that must
  inline a script or a style writes `nonce="{{ request.csp_nonce }}"` and the
  policy never depends on whether a template happened to ask for one;
- a view may allow images from one more origin (the customer's page: its
  channel's logo) with `images_allow(response, origin)`.
"""

import re
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase

# Set by `images_allow` on a response; read by the middleware below.
IMAGE_ORIGINS_ATTRIBUTE = "oms_csp_image_origins"
# A host name as it may stand in a policy: ASCII (IDNA-encoded) labels only,
# so a stored URL can never add a directive or a keyword to the header.
LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOST = re.compile(rf"^{LABEL}(?:\.{LABEL})*$")


def image_origin(url: str) -> str:
    """Return the https origin of an image address (`https://cdn.example`),
    or "" when the address is not an https URL with a plain host name."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii").lower()
    except (ValueError, UnicodeError):
        return ""
    if parts.scheme != "https" or not HOST.match(host):
        return ""
    return f"https://{host}:{port}" if port and port != 443 else f"https://{host}"


def images_allow(response: HttpResponseBase, origin: str) -> HttpResponseBase:
    """Let `response`'s page show images from `origin` (from `image_origin`)."""
    if origin:
        origins = getattr(response, IMAGE_ORIGINS_ATTRIBUTE, ())
        setattr(response, IMAGE_ORIGINS_ATTRIBUTE, (*origins, origin))
    return response


def _is_html(response: HttpResponseBase) -> bool:
    return response.get("Content-Type", "").startswith("text/html")


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware with a nonce on every HTML page and the image
    origins a view allowed."""

    def get_policy_parts(
        self,
        request: HttpRequest,
        response: HttpResponseBase,
        report_only: bool = False,
    ) -> PolicyParts:
        nonce = getattr(request, "csp_nonce", None)
        if nonce is not None and _is_html(response):
            # Reading the nonce makes it: the header then names it.
            str(nonce)
        parts = super().get_policy_parts(request, response, report_only)
        origins = getattr(response, IMAGE_ORIGINS_ATTRIBUTE, ())
        if origins and not report_only:
            update = dict(parts.update or {})
            update["img-src"] = [*(update.get("img-src") or ()), *origins]
            parts.update = update
        return parts
