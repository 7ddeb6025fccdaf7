"""The returns list finds a return by its own number, its order's and its
refunds', however typed."""

import pytest
from django.urls import reverse

from returns.models import Refund
from returns.services.refunds import refund_create
from returns.services.returns import ReturnLineInput, return_open

pytestmark = pytest.mark.django_db


@pytest.fixture
def rma(shipped, product, user):
    order = shipped([(product, 2)])
    rma = return_open(
        order=order,
        lines=[
            ReturnLineInput(order_line=order.lines.get(), quantity=1, reason="other")
        ],
        actor=user,
    )
    refund = refund_create(order=order, amount="5.00", actor=user)
    # As if the return had been received and this refund made from it.
    Refund.objects.filter(pk=refund.pk).update(return_request=rma)
    return rma, refund


def listed(client, term: str) -> set[str]:
    response = client.get(
        reverse("admin:returns_returnrequest_changelist"), {"q": term}
    )
    assert response.status_code == 200
    return {row.number for row in response.context["cl"].result_list}


def test_a_return_is_found_by_its_order_and_refund_numbers_however_typed(
    admin_client, rma
):
    rma, refund = rma
    order_digits = rma.order.number.removeprefix("SO-").lstrip("0")
    refund_digits = refund.number.removeprefix("RF-").lstrip("0")
    for term in (
        rma.number,
        f"rma{rma.number[4:]}",
        rma.order.number,
        f"so-{order_digits}",
        refund.number,
        f"RF{refund_digits}",
    ):
        assert listed(admin_client, term) == {rma.number}, term
