"""The return label a customer downloads: the prepaid one where postage was
bought through EasyPost, else ours (rendered by `returns.documents`)."""

from fulfillment.models import ReturnLabel
from returns import documents
from returns.models import ReturnRequest


def customer_return_label(*, return_request: ReturnRequest) -> tuple[bytes, str]:
    """Return (PDF bytes, file name) of the approved return's label.

    A prepaid label only counts once it is bought and is a PDF (a ZPL label
    is for thermal printers, not for a customer's printer).
    """
    bought = (
        ReturnLabel.objects.filter(
            return_number=return_request.number, label_file__isnull=False
        )
        .values_list("label_file", flat=True)
        .first()
    )
    if bought is not None and bytes(bought[:4]) == b"%PDF":
        return bytes(bought), f"prepaid-return-label-{return_request.number}.pdf"
    return (
        documents.return_label_pdf(return_request=return_request),
        documents.return_label_filename(return_request),
    )
