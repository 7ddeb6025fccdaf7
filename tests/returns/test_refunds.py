"""Refunds through returns.services.refunds: amounts at their limits,
refunds of returns, approval with a payment reference, proposals."""

from decimal import Decimal

import pytest
from django.core import mail

from orders.models import Order, OrderEvent
from returns import selectors
from returns.exceptions import (
    RefundError,
    ReturnChangedError,
    ReturnStateError,
)
from returns.models import Refund, ReturnRequest, ReturnStatus
from returns.services.refunds import (
    refund_approve,
    refund_create,
    refund_propose,
    refund_reject,
)
from tests.factories import ProductFactory
from tests.returns.steps import inspected, open_return

pytestmark = pytest.mark.django_db


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
