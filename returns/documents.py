"""The return label (4 × 6 in), rendered by the one PDF module
(`fulfillment.documents`) with its static-files-only URL fetcher."""

from django.template.loader import render_to_string

from fulfillment.documents import html_to_pdf
from orders.models import CustomerEmail
from returns import selectors
from returns.models import ReturnRequest

TEMPLATE = "documents/return_label.html"


def return_label_filename(return_request: ReturnRequest) -> str:
    return f"return-label-{return_request.number}.pdf"


def return_label_pdf(*, return_request: ReturnRequest) -> bytes:
    """Render the return label of one RMA as a one-page PDF."""
    label = selectors.return_label(return_request=return_request)
    return html_to_pdf(render_to_string(TEMPLATE, {"pages": [label]}))


def return_label_attachments(email: CustomerEmail) -> list[tuple[str, bytes, str]]:
    """Attach the return label to the 'return approved' e-mail."""
    return_id = (email.context or {}).get("return_id")
    return_request = (
        ReturnRequest.objects.select_related("order").filter(pk=return_id).first()
    )
    if return_request is None:
        return []
    return [
        (
            return_label_filename(return_request),
            return_label_pdf(return_request=return_request),
            "application/pdf",
        )
    ]
