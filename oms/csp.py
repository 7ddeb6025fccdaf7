"""The Content Security Policy header (django-csp), as the OMS needs it.

The policy itself is `CONTENT_SECURITY_POLICY` in the settings. Three things
are added per response here, through django-csp's documented extension point
(`CSPMiddleware.get_policy_parts`):

- every HTML page's policy carries a fresh nonce, so a template that must
  inline a script or a style writes `nonce="{{ request.csp_nonce }}"` and the
  policy never depends on whether a template happened to ask for one;
- a view may allow images from one more origin (the customer's page: its
  channel's logo) with `images_allow(response, origin)`;
- a page of another package whose markup needs it gets the hashes of exactly
  that markup (`PAGE_EXCEPTIONS`), on that page only.

PDFs are sent without a policy, and every other answer that is not a page
(JSON, CSV, a script file) with the fixed `NOT_A_PAGE_POLICY` (see
`process_response`).
"""

import re
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase

# Pages of other packages whose markup the policy would refuse, and the hashes
# that allow exactly that markup there ('unsafe-hashes': an attribute whose
# value has one of these hashes, and no other). django-import-export's export
# page (admin/import_export/export.html) writes a select-all checkbox with
# `onchange="onSelectToggleChange(event)"` and two style attributes,
# `padding: 0;` and `font-weight: bold;`. tests/test_csp.py hashes the
# attributes of the page as rendered, so an upgrade that changes them fails
# there rather than in a browser.
PAGE_EXCEPTIONS = {
    "admin:orders_order_export": {
        "script-src-attr": [
            "'unsafe-hashes'",
            "'sha256-wid4zL8fR53ZYy1ljOepzR77Dn6vWUUxuNnnWWBP3I8='",
        ],
        "style-src-attr": [
            "'unsafe-hashes'",
            "'sha256-mHgUAqxc8GPXM/QhzkHrHujcrQTU9fd6ZjWz+icxKcA='",
            "'sha256-+YWRMZ88jMyO7jVlBA52tZADiPobPIUA8LAWee68Fvs='",
        ],
    },
}
HEADER = "Content-Security-Policy"
# An answer that is not a page loads nothing and may be framed by no one.
NOT_A_PAGE_POLICY = "default-src 'none'; frame-ancestors 'none'"
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


def _is_pdf(response: HttpResponseBase) -> bool:
    return response.get("Content-Type", "").startswith("application/pdf")


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware with a nonce on every HTML page, the image
    origins a view allowed and the page exceptions."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        # A PDF shown in place (labels, slips, pick lists) is drawn by the
        # browser's own viewer, which a page policy (object-src 'none') may
        # keep from loading; the PDF is ours, without scripts, and
        # X-Frame-Options still keeps it out of other sites' frames.
        if _is_pdf(response):
            return response
        # Anything else that is not a page (the API's and the webhooks' JSON,
        # a CSV, a script file): no document is drawn from it, so the
        # strictest policy, written once rather than composed per response
        # (composing it was an eighth of a webhook's acknowledgement).
        if not _is_html(response):
            if HEADER not in response:
                response[HEADER] = NOT_A_PAGE_POLICY
            return response
        return super().process_response(request, response)

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
        if report_only:
            return parts
        update = dict(parts.update or {})
        origins = getattr(response, IMAGE_ORIGINS_ATTRIBUTE, ())
        if origins:
            update["img-src"] = [*(update.get("img-src") or ()), *origins]
        match = getattr(request, "resolver_match", None)
        exception = PAGE_EXCEPTIONS.get(match.view_name if match else "")
        if exception:
            for directive, sources in exception.items():
                update[directive] = [*(update.get(directive) or ()), *sources]
        parts.update = update or parts.update
        return parts
