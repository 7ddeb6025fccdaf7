"""The return steps the tests repeat: open a return, take it through
inspection, and check the stock ledger."""

from django.db.models import Sum

from inventory.models import StockLevel, StockMovement
from returns.services.returns import (
    Inspection,
    ReturnLineInput,
    return_approve,
    return_inspect,
    return_open,
    return_receive,
)


def open_return(order, user, quantity=2, reason="does_not_fit", **options):
    line = order.lines.get()
    return return_open(
        order=order,
        lines=[ReturnLineInput(order_line=line, quantity=quantity, reason=reason)],
        actor=user,
        **options,
    )


def inspected(order, user, location, quantity=2, condition="resellable"):
    rma = open_return(order, user, quantity)
    return_approve(return_request=rma, actor=user)
    line = rma.lines.get()
    return_receive(return_request=rma, actor=user, quantities={line.pk: quantity})
    return return_inspect(
        return_request=rma,
        actor=user,
        inspections={line.pk: Inspection(condition=condition, location=location)},
    )


def ledger_holds():
    for level in StockLevel.objects.all():
        total = StockMovement.objects.filter(
            product=level.product, location=level.location
        ).aggregate(total=Sum("delta"))["total"]
        assert level.on_hand == (total or 0), level
