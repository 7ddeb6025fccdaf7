"""Prepaid return labels through EasyPost: bought after the approval
commits, per channel setting, sent with the instructions; refusals visible
and bought again; a timeout never buys twice."""

import io

import pytest
from pypdf import PdfReader

from fulfillment.models.postage import ChannelPostage, ReturnLabel
from orders.models import EmailKind, OrderEvent
from returns import documents
from returns.services.labels import return_label_buy_again, return_labels_buy_due
from returns.services.returns import ReturnLineInput, return_approve, return_open
from tests.support.easypost_replay import png_label
from tests.support.emails import customer_emails
from tests.support.files import stored_bytes


@pytest.fixture
def rma(shipped, product, user, postage_location, easypost_carrier):
    """A return of 2 of 3 shipped units, on a channel buying EasyPost return
    labels."""
    order = shipped([(product, 3)])
    ChannelPostage.objects.create(
        channel=order.channel, return_carrier=easypost_carrier
    )
    return return_open(
        order=order,
        lines=[
            ReturnLineInput(
                order_line=order.lines.get(), quantity=2, reason="does_not_fit"
            )
        ],
        actor=user,
    )


def approved_emails(rma):
    return customer_emails(EmailKind.RETURN_APPROVED, order=rma.order)


def test_approval_buys_prepaid_return_label_after_commit(
    rma, easypost, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        return_approve(return_request=rma, actor=user)
    # In the approval itself: recorded, nothing bought, nobody mailed yet.
    label = ReturnLabel.objects.get(return_number=rma.number)
    assert label.status == ReturnLabel.Status.PENDING
    assert easypost.calls == []
    assert not approved_emails(rma).exists()
    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()
    label.refresh_from_db()
    assert label.status == ReturnLabel.Status.BOUGHT
    assert label.tracking_code and label.label_carrier == "USPS"
    assert str(label.cost) == "5.49"
    created = easypost.bodies[easypost.calls.index(("POST", "/v2/shipments"))]
    shipment = created["shipment"]
    assert shipment["is_return"] is True
    assert shipment["reference"] == rma.number
    assert shipment["to_address"]["street1"] == rma.order.ship_address1
    assert shipment["from_address"]["street1"] == "417 Montgomery St"
    assert sum(easypost.buys.values()) == 1
    # The customer gets the instructions with EasyPost's label.
    [email] = approved_emails(rma)
    assert email.payload["rma"] == rma.number
    assert documents.return_label_pdf(return_request=rma) == stored_bytes(
        label.label_file
    )
    assert OrderEvent.objects.filter(
        order=rma.order, message__contains="Prepaid return label"
    ).exists()


def test_refused_purchase_is_visible_and_bought_again(
    rma, easypost, user, django_capture_on_commit_callbacks
):
    easypost.buy_error = (402, "PAYMENT_REQUIRED", "Insufficient funds.")
    with django_capture_on_commit_callbacks(execute=True):
        return_approve(return_request=rma, actor=user)
    label = ReturnLabel.objects.get(return_number=rma.number)
    assert label.status == ReturnLabel.Status.FAILED
    assert "Insufficient funds" in label.error
    assert not approved_emails(rma).exists()
    assert OrderEvent.objects.filter(
        order=rma.order, message__contains="could not be bought"
    ).exists()
    # The sweep leaves a failed one to a person.
    assert return_labels_buy_due() == "0 return labels tried"
    easypost.buy_error = None
    with django_capture_on_commit_callbacks(execute=True):
        return_label_buy_again(label=label, actor=user)
    label.refresh_from_db()
    assert label.status == ReturnLabel.Status.BOUGHT
    assert sum(easypost.buys.values()) == 1
    assert approved_emails(rma).count() == 1


def test_timeout_then_sweep_never_buys_twice(
    rma, easypost, user, settings, django_capture_on_commit_callbacks
):
    settings.OMS_EASYPOST_TIMEOUT = 1
    easypost.buy_delay = 1.5
    with django_capture_on_commit_callbacks(execute=True):
        return_approve(return_request=rma, actor=user)
    label = ReturnLabel.objects.get(return_number=rma.number)
    assert label.status == ReturnLabel.Status.BUYING
    assert label.easypost_shipment_id and "did not answer" in label.error
    easypost.buy_delay = 0
    with django_capture_on_commit_callbacks(execute=True):
        assert return_labels_buy_due() == "1 return label tried"
    label.refresh_from_db()
    assert label.status == ReturnLabel.Status.BOUGHT
    assert easypost.buys == {label.easypost_shipment_id: 1}
    assert approved_emails(rma).count() == 1


def test_channel_without_return_carrier_keeps_our_drawn_label(
    rma, easypost, user, django_capture_on_commit_callbacks
):
    ChannelPostage.objects.filter(channel=rma.order.channel).update(return_carrier=None)
    with django_capture_on_commit_callbacks(execute=True):
        return_approve(return_request=rma, actor=user)
    assert not ReturnLabel.objects.exists()
    assert easypost.calls == []
    assert approved_emails(rma).count() == 1
    assert documents.return_label_pdf(return_request=rma).startswith(b"%PDF")


def test_prepaid_return_label_that_came_as_png_is_served_as_a_4x6_pdf(
    rma, easypost, user, django_capture_on_commit_callbacks
):
    # An account that ignores the format asked for sends PNG labels.
    easypost.pdf = png_label()
    with django_capture_on_commit_callbacks(execute=True):
        return_approve(return_request=rma, actor=user)
    label = ReturnLabel.objects.get(return_number=rma.number)
    assert stored_bytes(label.label_file).startswith(b"\x89PNG")

    pdf = documents.return_label_pdf(return_request=rma)

    [page] = PdfReader(io.BytesIO(pdf)).pages
    size = (float(page.mediabox.width), float(page.mediabox.height))
    assert size == pytest.approx((288, 432), abs=0.5)
    assert page.images[0].image.size == (1200, 1800)
