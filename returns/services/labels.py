"""The return label: the customer's instructions e-mail that carries it,
a prepaid label bought through EasyPost for channels set up for it, and
the label's print log (who printed or downloaded it, and when).

A channel whose postage setting names a return carrier (Fulfilment ›
Channel postage settings) gets EasyPost's prepaid label instead of our
drawn one: approving records the label to buy, and a worker buys it after
the approval commits — never in the request, never under a lock — and then
sends the customer the instructions with that label. A purchase EasyPost
refuses is shown (Return labels, and the order's timeline) and bought again
from there; the scheduled sweep retries purchases whose outcome is unknown.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import ngettext

from core.exceptions import DomainError
from core.tasks import app, defer_in_transaction
from core.users import Actor, acting_user
from fulfillment.models import DocumentKind, DocumentPrint
from fulfillment.models.postage import ReturnLabel
from fulfillment.postage.returns import (
    channel_return_carrier,
    return_label_buy,
    return_label_request,
    return_label_retry,
)
from orders import events
from orders.emails import customer_email_queue
from orders.locks import lock_order
from orders.models import EmailKind, Order
from returns import selectors
from returns.models import ReturnRequest


def return_approved_email_queue(
    *, order: Order, return_request: ReturnRequest, instructions: str
) -> None:
    """Queue the 'return approved' e-mail: instructions, lines and the label
    (attached when it is sent; never twice per return)."""
    customer_email_queue(
        order=order,
        kind=EmailKind.RETURN_APPROVED,
        key=return_request.number,
        context={
            "rma": return_request.number,
            "return_id": return_request.pk,
            "instructions": instructions,
            "return_lines": [
                {
                    "sku": line.order_line.sku,
                    "name": line.order_line.name,
                    "quantity": q,
                }
                for line in return_request.lines.select_related("order_line")
                if (q := line.quantity)
            ],
        },
    )


def return_label_prepaid_queue(
    *, order: Order, return_request: ReturnRequest
) -> ReturnLabel | None:
    """Inside the approval: when the order's channel buys return labels
    through EasyPost, record the label to buy and buy it after commit;
    return it, or None (our drawn label)."""
    carrier = channel_return_carrier(order.channel_id)
    if carrier is None:
        return None
    label = return_label_request(
        order=order, return_number=return_request.number, carrier=carrier
    )
    defer_in_transaction(
        lambda: return_label_buy_task.defer(return_id=return_request.pk)
    )
    return label


def return_label_purchase(*, return_request: ReturnRequest, actor: Actor = None):
    """Buy the recorded prepaid label of an approved return, then mail the
    customer the instructions with it; a failure goes on the timeline."""
    location = selectors.return_location(order=return_request.order)
    weight_g = sum(
        line.order_line.product.weight_g * line.quantity
        for line in return_request.lines.select_related("order_line__product")
    )
    label = ReturnLabel.objects.get(return_number=return_request.number)
    if label.status == ReturnLabel.Status.BOUGHT:
        return label
    label = return_label_buy(
        label_id=label.pk,
        location_id=location.pk if location else None,
        weight_g=weight_g,
    )
    if label.status == ReturnLabel.Status.BOUGHT:
        with transaction.atomic():
            order = lock_order(return_request.order_id)
            events.order_event_return(
                order=order,
                actor=actor,
                message=f"Prepaid return label for {return_request.number} bought: "
                f"{label.label_carrier} {label.label_service} {label.tracking_code}, "
                f"{label.cost} {label.currency}.",
                data={"return": return_request.number, "label": "bought"},
            )
            return_approved_email_queue(
                order=order,
                return_request=return_request,
                instructions=return_request.decision_message,
            )
    elif label.status == ReturnLabel.Status.FAILED:
        with transaction.atomic():
            order = lock_order(return_request.order_id)
            events.order_event_return(
                order=order,
                actor=actor,
                message=f"The prepaid return label for {return_request.number} "
                f"could not be bought: {label.error} The customer has no "
                "instructions yet: buy it again from Fulfilment › Return labels.",
                data={"return": return_request.number, "label": "failed"},
            )
    return label


@app.task()
def return_label_buy_task(return_id: int, actor_id: int | None = None) -> str:
    """Buy a prepaid return label in the background."""
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    return_request = ReturnRequest.objects.select_related("order").get(pk=return_id)
    try:
        label = return_label_purchase(return_request=return_request, actor=actor)
    except DomainError as error:
        return str(error)
    return f"{label.return_number}: {label.status} {label.error}".strip()


def return_label_buy_again(*, label: ReturnLabel, actor: Actor) -> None:
    """A person retries a failed purchase (Return labels › Buy again)."""
    return_label_retry(label_id=label.pk)
    return_id = (
        ReturnRequest.objects.filter(number=label.return_number)
        .values_list("pk", flat=True)
        .get()
    )
    actor_id = acting_user(actor).pk if acting_user(actor) else None
    defer_in_transaction(
        lambda: return_label_buy_task.defer(return_id=return_id, actor_id=actor_id)
    )


@app.periodic(cron="*/5 * * * *", periodic_id="return-labels-due")
@app.task(queueing_lock="return-labels-due")
def return_labels_buy_due(timestamp: int = 0) -> str:
    """Scheduled: buy the return labels whose task was lost or whose last
    attempt timed out (a failed one waits for a person)."""
    due = ReturnLabel.objects.filter(
        status__in=[ReturnLabel.Status.PENDING, ReturnLabel.Status.BUYING],
        buying_since__isnull=True,
    ).values_list("return_number", flat=True)[:50]
    done = 0
    for return_request in ReturnRequest.objects.filter(number__in=list(due)):
        try:
            return_label_purchase(return_request=return_request)
        except DomainError:
            continue
        done += 1
    return ngettext(
        "%(count)d return label tried", "%(count)d return labels tried", done
    ) % {"count": done}


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
