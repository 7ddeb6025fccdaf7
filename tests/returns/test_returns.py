"""Returns through returns.services.returns: the RMA state machine,
receiving and inspection with the stock ledger, exchanges, e-mails, the
order timeline, and steps from a stale page."""

import io
from decimal import Decimal

import pytest
from django.core import mail
from pypdf import PdfReader

from fulfillment.models import Shipment
from inventory.models import StockLevel, StockMovement
from orders.models import Order, OrderEvent, OrderStatus
from returns import selectors
from returns.exceptions import (
    ReturnChangedError,
    ReturnError,
    ReturnStateError,
)
from returns.models import ReturnRequest, ReturnStatus
from returns.services.returns import (
    return_approve,
    return_close,
    return_exchange,
    return_inspect,
    return_receive,
    return_reject,
)
from tests.factories import ProductFactory
from tests.returns.steps import inspected, ledger_holds, open_return
from tests.support.emails import customer_emails

pytestmark = pytest.mark.django_db


# ---- opening


def test_open_return_gets_a_number_lines_and_a_timeline_entry(order, user):
    rma = open_return(order, user, note="Too small")

    assert rma.number.startswith("RMA-") and len(rma.number) == 10
    assert rma.status == ReturnStatus.REQUESTED
    line = rma.lines.get()
    assert (line.quantity, line.reason) == (2, "does_not_fit")
    event = OrderEvent.objects.filter(order=order, kind="return").get()
    assert f"Return {rma.number} opened for 2 × TSH-BLK-M (Does not fit)" in (
        event.message
    )
    assert "Too small" in event.message


def test_returning_more_than_shipped_is_refused_and_changes_nothing(order, user):
    with pytest.raises(ReturnError, match="3 shipped, 0 already returned, 0 on open"):
        open_return(order, user, quantity=4)
    assert not ReturnRequest.objects.exists()
    assert not OrderEvent.objects.filter(kind="return").exists()


def test_units_on_an_open_return_cannot_be_claimed_twice(order, user):
    open_return(order, user, quantity=2)
    open_return(order, user, quantity=1)  # the last unit: exactly at the limit

    with pytest.raises(ReturnError, match="at most 0 can be returned"):
        open_return(order, user, quantity=1)


def test_units_of_a_rejected_return_can_be_asked_back_again(order, user):
    rma = open_return(order, user, quantity=3)
    return_reject(return_request=rma, actor=user, message="Past 30 days")

    assert open_return(order, user, quantity=3).status == ReturnStatus.REQUESTED


def test_unshipped_units_cannot_be_returned(place_order, stock, product, user):
    stock(product, 5)
    order = place_order([(product, 2)])
    with pytest.raises(ReturnError, match="0 shipped"):
        open_return(order, user, quantity=1)


def test_a_return_needs_a_reason_and_a_quantity(order, user):
    with pytest.raises(ReturnError, match="Choose a return reason for TSH-BLK-M"):
        open_return(order, user, reason="")
    with pytest.raises(ReturnError, match="at least one item"):
        open_return(order, user, quantity=0)


# ---- deciding


def test_approval_mails_instructions_with_the_return_label_pdf(
    order, user, django_capture_on_commit_callbacks
):
    rma = open_return(order, user)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        return_approve(return_request=rma, actor=user, message="Use box.")

    message = mail.outbox[-1]
    assert message.subject == f"Your return {rma.number} is approved"
    assert "Use box." in message.body and "2 × T-shirt black M" in message.body
    filename, content, mimetype = message.attachments[0]
    assert (filename, mimetype) == (
        f"return-label-{rma.number}.pdf",
        "application/pdf",
    )
    page = PdfReader(io.BytesIO(content)).pages[0]
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    assert (round(width), round(height)) == (288, 432)  # 4 × 6 in
    assert rma.number in page.extract_text()
    assert customer_emails("return_approved").get().status == "sent"


def test_rejection_needs_a_message_and_mails_it(
    order, user, django_capture_on_commit_callbacks
):
    rma = open_return(order, user)
    with pytest.raises(ReturnError, match=f"why return {rma.number}"):
        return_reject(return_request=rma, actor=user, message=" ")

    with django_capture_on_commit_callbacks(execute=True):
        return_reject(
            return_request=rma, actor=user, message="Worn items cannot be returned."
        )
    assert ReturnRequest.objects.get().status == ReturnStatus.REJECTED
    assert "Worn items cannot be returned." in mail.outbox[-1].body
    assert not mail.outbox[-1].attachments


# ---- receiving and inspection


def test_receiving_a_rejected_return_is_refused_and_changes_nothing(order, user):
    rma = open_return(order, user)
    return_reject(return_request=rma, actor=user, message="No.")
    line = rma.lines.get()

    with pytest.raises(
        ReturnStateError,
        match=f"Return {rma.number} is Rejected and cannot be received",
    ):
        return_receive(return_request=rma, actor=user, quantities={line.pk: 2})
    assert order.lines.get().quantity_returned == 0
    assert ReturnRequest.objects.get().received_at is None


def test_receiving_more_than_announced_is_refused(order, user):
    rma = open_return(order, user, quantity=2)
    return_approve(return_request=rma, actor=user)
    line = rma.lines.get()

    with pytest.raises(ReturnError, match="Enter 0 to 2"):
        return_receive(return_request=rma, actor=user, quantities={line.pk: 3})
    assert ReturnRequest.objects.get().status == ReturnStatus.APPROVED


def test_received_units_make_the_order_partially_returned_then_returned(
    order, user, location
):
    inspected(order, user, location, quantity=2)
    units = Order.objects.filter(pk=order.pk)
    annotated = selectors.orders_with_return_units(units).get()
    assert (annotated.units_ordered, annotated.units_returned) == (3, 2)
    assert selectors.return_state(units_ordered=3, units_returned=2) == "partial"

    inspected(order, user, location, quantity=1)
    annotated = selectors.orders_with_return_units(units).get()
    assert selectors.return_state(
        units_ordered=annotated.units_ordered,
        units_returned=annotated.units_returned,
    ) == ("returned")


def test_resellable_units_go_back_to_stock_with_the_rma_as_reference(
    order, user, location
):
    level = StockLevel.objects.get(location=location)
    assert level.on_hand == 0

    rma = inspected(order, user, location, quantity=2)

    level.refresh_from_db()
    assert level.on_hand == 2
    movement = StockMovement.objects.get(reason="return")
    assert (movement.delta, movement.reference) == (2, rma.number)
    line = rma.lines.get()
    assert (line.condition, line.restock_location) == ("resellable", location)
    ledger_holds()


def test_damaged_units_are_written_off_with_their_own_reason(order, user, location):
    rma = inspected(order, user, location, quantity=2, condition="damaged")

    assert StockLevel.objects.get(location=location).on_hand == 0
    movements = StockMovement.objects.filter(reason="return_damaged")
    assert sorted(movements.values_list("delta", flat=True)) == [-2, 2]
    assert set(movements.values_list("reference", flat=True)) == {rma.number}
    assert not StockMovement.objects.filter(reason="return").exists()
    ledger_holds()


def test_restocked_units_release_a_waiting_backorder(
    order, user, location, place_order, django_capture_on_commit_callbacks
):
    waiting = place_order([(order.lines.get().product, 1)])
    assert waiting.status == OrderStatus.BACKORDERED

    with django_capture_on_commit_callbacks(execute=True):
        inspected(order, user, location, quantity=1)

    waiting.refresh_from_db()
    assert waiting.status == OrderStatus.ALLOCATED


def test_inspection_needs_a_condition_for_every_received_line(order, user, location):
    rma = open_return(order, user)
    return_approve(return_request=rma, actor=user)
    line = rma.lines.get()
    return_receive(return_request=rma, actor=user, quantities={line.pk: 2})

    with pytest.raises(ReturnError, match="choose the condition of TSH-BLK-M"):
        return_inspect(return_request=rma, actor=user, inspections={})
    assert not StockMovement.objects.filter(reason="return").exists()


# ---- exchange and close


def test_exchange_creates_a_linked_free_replacement_that_ships_like_any_other(
    order, user, location, stock
):
    rma = inspected(order, user, location, quantity=2)
    other = ProductFactory(sku="TSH-BLK-L")
    stock(other, 5)

    replacement = return_exchange(return_request=rma, actor=user, items=[(other, 2)])

    rma.refresh_from_db()
    assert rma.status == ReturnStatus.EXCHANGED
    assert rma.replacement_order == replacement
    assert replacement.status == OrderStatus.ALLOCATED
    assert replacement.total == Decimal("0.00")
    assert replacement.external_id == rma.number
    line = replacement.lines.get()
    assert (line.sku, line.quantity) == ("TSH-BLK-L", 2)
    assert replacement.events.filter(
        kind="return", message__contains=order.number
    ).exists()
    assert order.events.filter(message__contains=replacement.number).exists()


def test_exchange_before_inspection_is_refused(order, user):
    rma = open_return(order, user)
    with pytest.raises(ReturnStateError, match="Requested and cannot be exchanged"):
        return_exchange(return_request=rma, actor=user)
    assert Order.objects.count() == 1


def test_every_return_step_is_on_the_order_timeline(order, user, location):
    rma = inspected(order, user, location)
    return_close(return_request=rma, actor=user, note="Store credit given")

    messages = list(
        OrderEvent.objects.filter(order=order, kind="return")
        .order_by("pk")
        .values_list("message", flat=True)
    )
    assert [m.split(":")[0].split(";")[0] for m in messages] == [
        f"Return {rma.number} opened for 2 × TSH-BLK-M (Does not fit)",
        f"Return {rma.number} approved",
        f"Return {rma.number} received",
        f"Return {rma.number} inspected",
        f"Return {rma.number} closed without refund or exchange",
    ]
    assert Shipment.objects.filter(order=order).exists()


# ---- steps from a page: the version it was opened at, checked under the lock


def test_step_with_the_version_the_page_was_opened_at_runs(order, user):
    rma = open_return(order, user)

    approved = return_approve(
        return_request=rma, actor=user, expected_version=rma.version
    )

    assert approved.status == ReturnStatus.APPROVED


def test_step_with_a_stale_version_is_refused_and_changes_nothing(order, user):
    rma = open_return(order, user)
    opened_at = rma.version
    return_approve(return_request=rma, actor=user)  # someone else, meanwhile

    with pytest.raises(ReturnChangedError, match="changed by someone else"):
        return_close(return_request=rma, actor=user, expected_version=opened_at)
    assert ReturnRequest.objects.get().status == ReturnStatus.APPROVED
