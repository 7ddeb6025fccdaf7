"""The return label (4 × 6 in), rendered by the one PDF module
(`fulfillment.documents`) with its static-files-only URL fetcher."""

import logging

from django.template.loader import render_to_string

from fulfillment.documents import labels_to_pdf
from fulfillment.exceptions import FulfillmentError, LabelDoesNotFitError
from fulfillment.models.postage import ReturnLabel as PrepaidLabel
from fulfillment.postage.labels import label_as_pdf, label_read
from orders.emails import EmailToSend
from returns import selectors
from returns.models import ReturnRequest

logger = logging.getLogger(__name__)
TEMPLATE = "documents/return_label.html"


def return_label_filename(return_request: ReturnRequest) -> str:
    return f"return-label-{return_request.number}.pdf"


def _render(labels, fits) -> str:
    return render_to_string(
        TEMPLATE,
        {"pages": labels, "labels": list(zip(labels, fits, strict=True))},
    )


def return_label_pdf(*, return_request: ReturnRequest) -> bytes:
    """Render the return label of one RMA as a one-page PDF — or, when a
    prepaid label was bought through EasyPost for it, that label.

    Raises LabelDoesNotFitError when its addresses cannot fit the label.
    """
    prepaid = (
        PrepaidLabel.objects.filter(
            return_number=return_request.number,
            status=PrepaidLabel.Status.BOUGHT,
            label_file__isnull=False,
        )
        .values_list("label_file", flat=True)
        .first()
    )
    if prepaid is not None:
        # EasyPost may send a PNG although a PDF was asked for.
        data = label_read(model=PrepaidLabel, name=prepaid)
        return label_as_pdf(data, f"return {return_request.number}")
    label = selectors.return_label(return_request=return_request)
    return labels_to_pdf(
        [label],
        render=_render,
        describe=lambda record: f"return {record.number} (order {record.order_number})",
    )


def return_label_attachments(email: EmailToSend) -> list[tuple[str, bytes, str]]:
    """Attach the return label to the 'return approved' e-mail."""
    return_id = (email.context or {}).get("return_id")
    return_request = (
        ReturnRequest.objects.select_related("order").filter(pk=return_id).first()
    )
    if return_request is None:
        return []
    try:
        pdf = return_label_pdf(return_request=return_request)
    except (LabelDoesNotFitError, FulfillmentError) as error:
        # The e-mail still tells the customer the return is approved; staff
        # meet the same refusal, naming the return, when they print it.
        logger.warning("Return label of %s: %s", return_request.number, error)
        return []
    return [
        (
            return_label_filename(return_request),
            pdf,
            "application/pdf",
        )
    ]
