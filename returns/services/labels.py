"""The return label's print log: who printed or downloaded it, and when."""

from core.users import Actor, acting_user
from fulfillment.models import DocumentKind, DocumentPrint
from orders import events
from returns.models import ReturnRequest


def return_label_print_record(*, return_request: ReturnRequest, actor: Actor) -> None:
    """Log a return label print or download: the print log and the timeline."""
    record = DocumentPrint.objects.create(
        kind=DocumentKind.RETURN_LABEL,
        user=acting_user(actor),
        references=[return_request.number],
        pages=1,
    )
    events.order_event_document(
        order=return_request.order_id,
        actor=actor,
        message=f"Return label for {return_request.number} printed.",
        data={"document": DocumentKind.RETURN_LABEL, "print": record.pk},
    ).save()
