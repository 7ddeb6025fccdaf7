"""Returns and refunds through returns.services: the RMA state machine,
receiving and inspection with the stock ledger, refunds at their limits,
exchanges, e-mails and the order timeline."""

import io
from decimal import Decimal

import pytest
from django.core import mail
from django.db.models import Sum
from pypdf import PdfReader

from fulfillment.models import Shipment
from inventory.models import StockLevel, StockMovement
from orders.models import CustomerEmail, Order, OrderEvent, OrderStatus
from returns import selectors
from returns.exceptions import (
    RefundError,
    ReturnChangedError,
    ReturnError,
    ReturnStateError,
)
from returns.models import Refund, ReturnRequest, ReturnStatus
from returns.services.refunds import (
    refund_approve,
    refund_create,
    refund_propose,
    refund_reject,
)
from returns.services.returns import (
    Inspection,
    ReturnLineInput,
    return_approve,
    return_close,
    return_exchange,
    return_inspect,
    return_open,
    return_receive,
    return_reject,
)
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(shipped, product):
    """A shipped order: 3 × product at 10.00, shipping 0, paid 30.00."""
    return shipped([(product, 3)])


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
    assert CustomerEmail.objects.get(kind="return_approved").status == "sent"


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


# ---- refunds


def test_refund_up_to_exactly_what_was_paid_is_accepted(order, user, location):
    rma = inspected(order, user, location, quantity=2)
    first = refund_create(
        order=order,
        return_request=rma,
        line_quantities={order.lines.get().pk: 2},
        actor=user,
    )
    assert first.amount == Decimal("20.00")

    last = refund_create(order=order, amount="10.00", actor=user)

    assert last.amount == Decimal("10.00")
    assert selectors.refund_balance(order=order).refundable == Decimal("0.00")


def test_refund_one_cent_above_what_is_left_is_refused_and_changes_nothing(order, user):
    refund_create(order=order, amount="29.99", actor=user)

    with pytest.raises(RefundError, match="30.00 paid, 29.99 already refunded"):
        refund_create(order=order, amount="0.02", actor=user)
    assert Refund.objects.count() == 1
    assert OrderEvent.objects.filter(kind="refund").count() == 1


def test_rejected_refunds_free_their_amount(order, user):
    refund = refund_create(order=order, amount="30.00", actor=user)
    refund_reject(refund=refund, actor=user, note="Duplicate")

    assert refund_create(order=order, amount="30.00", actor=user).amount == (
        Decimal("30.00")
    )


def test_refund_amounts_must_be_money(order, user):
    for bad in ("-1", "1.005", "abc", "NaN"):
        with pytest.raises(RefundError):
            refund_create(order=order, amount=bad, actor=user)
    with pytest.raises(RefundError, match="Nothing to refund"):
        refund_create(order=order, amount="0", actor=user)


def test_refund_of_a_return_covers_only_units_that_came_back(order, user, location):
    rma = inspected(order, user, location, quantity=1)
    line = order.lines.get()

    with pytest.raises(RefundError, match=f"1 came back on return {rma.number}"):
        refund_create(
            order=order, return_request=rma, line_quantities={line.pk: 2}, actor=user
        )


def test_refund_of_a_return_waits_for_inspection(order, user):
    rma = open_return(order, user)
    with pytest.raises(RefundError, match="is Requested; its refund waits"):
        refund_create(order=order, return_request=rma, amount="5", actor=user)


def test_shipping_is_refunded_once(shipped, user):
    product = ProductFactory()
    order = shipped([(product, 1)])
    Order.objects.filter(pk=order.pk).update(
        shipping_amount=Decimal("4.95"), total=Decimal("14.95")
    )
    order.refresh_from_db()

    refund = refund_create(order=order, shipping=True, actor=user)
    assert (refund.shipping_amount, refund.amount) == (Decimal("4.95"),) * 2

    with pytest.raises(RefundError, match="already refunded"):
        refund_create(order=order, shipping=True, actor=user)


def test_approved_refund_records_the_reference_refunds_the_return_and_mails(
    order, user, location, django_capture_on_commit_callbacks
):
    rma = inspected(order, user, location, quantity=2)
    refund = refund_create(
        order=order,
        return_request=rma,
        line_quantities={order.lines.get().pk: 2},
        actor=user,
    )
    with pytest.raises(RefundError, match="payment system's reference"):
        refund_approve(refund=refund, actor=user, external_reference="")

    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(refund=refund, actor=user, external_reference="re_123")

    refund.refresh_from_db()
    assert (refund.status, refund.external_reference, refund.approved_by) == (
        "approved",
        "re_123",
        user,
    )
    assert ReturnRequest.objects.get().status == ReturnStatus.REFUNDED
    assert "We have refunded 20.00 USD" in mail.outbox[-1].body
    with pytest.raises(ReturnStateError, match="is Approved and cannot be approved"):
        refund_approve(refund=refund, actor=user, external_reference="x")


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


def test_refund_from_a_stale_return_page_is_refused(order, user, location):
    rma = inspected(order, user, location)
    opened_at = ReturnRequest.objects.get().version
    ReturnRequest.objects.get().save()  # someone else, meanwhile

    with pytest.raises(ReturnChangedError):
        refund_propose(
            order=order,
            return_request=rma,
            line_quantities={order.lines.get().pk: 1},
            shipping=False,
            amount="0",
            reason="",
            actor=user,
            expected_version=opened_at,
        )
    assert not Refund.objects.exists()


# ---- proposing a refund, approved at once with a payment reference


def test_proposed_refund_without_a_reference_waits_for_a_manager(order, user):
    refund = refund_propose(
        order=order,
        return_request=None,
        line_quantities={},
        shipping=False,
        amount="5.00",
        reason="Late",
        actor=user,
    )

    assert (refund.status, refund.amount) == ("pending", Decimal("5.00"))


def test_proposed_refund_with_a_reference_is_approved_and_refunds_the_return(
    order, user, location
):
    rma = inspected(order, user, location, quantity=2)

    refund = refund_propose(
        order=order,
        return_request=rma,
        line_quantities={order.lines.get().pk: 2},
        shipping=False,
        amount="0",
        reason="",
        actor=user,
        external_reference="re_9",
    )

    refund.refresh_from_db()
    assert (refund.status, refund.external_reference) == ("approved", "re_9")
    assert ReturnRequest.objects.get().status == ReturnStatus.REFUNDED
    assert OrderEvent.objects.filter(kind="refund").count() == 2


def test_refund_above_what_is_left_is_not_proposed_nor_approved(order, user):
    with pytest.raises(RefundError, match="at most 30.00 USD"):
        refund_propose(
            order=order,
            return_request=None,
            line_quantities={},
            shipping=False,
            amount="30.01",
            reason="",
            actor=user,
            external_reference="re_1",
        )
    assert not Refund.objects.exists()
