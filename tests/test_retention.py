"""The retention prune: old rows and files go, young and needed ones stay."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from connections.models import InboundMessage, OutboundMessage
from fulfillment.models import PrintJob, ReturnLabel, ShipmentPostage
from oms.retention import retention_prune
from orders.models import ImportJob
from returns.models import ReturnRequest, ReturnStatus
from tests.support.emails import customer_emails
from tests.support.files import store

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def days_ago(days: int):
    return NOW - timedelta(days=days)


def exists(model, field: str, name: str) -> bool:
    return model._meta.get_field(field).storage.exists(name)


def inbound(channel, *, status, processed_days_ago):
    return InboundMessage.objects.create(
        channel=channel,
        source=InboundMessage.Source.API,
        topic="orders/create",
        status=status,
        processed_at=days_ago(processed_days_ago),
    )


def test_old_applied_inbound_messages_are_deleted(channel):
    old = inbound(channel, status="processed", processed_days_ago=31)
    retention_prune(now=NOW)
    assert not InboundMessage.objects.filter(pk=old.pk).exists()


def test_young_and_failed_inbound_messages_are_kept(channel):
    young = inbound(channel, status="processed", processed_days_ago=29)
    failed = inbound(channel, status="failed", processed_days_ago=400)
    retention_prune(now=NOW)
    assert set(InboundMessage.objects.values_list("pk", flat=True)) == {
        young.pk,
        failed.pk,
    }


def import_job(*, finished_days_ago):
    name = store(ImportJob, "source", b"sku,quantity\n", "orders.csv")
    job = ImportJob.objects.create(
        filename="orders.csv", source=name, status=ImportJob.Status.DONE
    )
    ImportJob.objects.filter(pk=job.pk).update(finished_at=days_ago(finished_days_ago))
    return job, name


def test_an_old_finished_import_goes_with_its_file():
    job, name = import_job(finished_days_ago=31)
    retention_prune(now=NOW)
    assert not ImportJob.objects.filter(pk=job.pk).exists()
    assert not exists(ImportJob, "source", name)


def test_a_young_import_keeps_its_file():
    job, name = import_job(finished_days_ago=2)
    retention_prune(now=NOW)
    assert ImportJob.objects.filter(pk=job.pk).exists()
    assert exists(ImportJob, "source", name)


def test_an_old_print_batch_goes_with_its_pdf():
    name = store(PrintJob, "pdf", b"%PDF-1.4 batch", "batch.pdf")
    job = PrintJob.objects.create(
        kind="packing_slip", status=PrintJob.Status.DONE, pdf=name
    )
    PrintJob.objects.filter(pk=job.pk).update(finished_at=days_ago(31))
    call_command("retention_prune")
    assert not PrintJob.objects.filter(pk=job.pk).exists()
    assert not exists(PrintJob, "pdf", name)


@pytest.fixture
def labelled(shipped, product):
    """A shipped order whose label was bought and delivered `days` ago."""

    def make(*, delivered_days_ago: int):
        order = shipped([(product, 1)])
        shipment = order.shipments.get()
        type(shipment).objects.filter(pk=shipment.pk).update(
            delivered_at=days_ago(delivered_days_ago)
        )
        name = store(ShipmentPostage, "label_file", b"%PDF-1.4 label", "label.pdf")
        ShipmentPostage.objects.create(
            shipment=shipment, status=ShipmentPostage.Status.BOUGHT, label_file=name
        )
        return order, name

    return make


def label_kept(order) -> bool:
    return bool(ShipmentPostage.objects.get(shipment__order=order).label_file)


def test_a_label_past_the_claim_window_is_dropped(labelled):
    order, name = labelled(delivered_days_ago=181)
    retention_prune(now=NOW)
    assert not label_kept(order)
    assert not exists(ShipmentPostage, "label_file", name)


def test_a_label_within_the_claim_window_is_kept(labelled):
    order, name = labelled(delivered_days_ago=179)
    retention_prune(now=NOW)
    assert label_kept(order)
    assert exists(ShipmentPostage, "label_file", name)


def test_a_label_with_an_open_return_is_kept(labelled):
    order, name = labelled(delivered_days_ago=400)
    ReturnRequest.objects.create(
        number="RMA-RET-1", order=order, status=ReturnStatus.RECEIVED
    )
    retention_prune(now=NOW)
    assert label_kept(order)
    assert exists(ShipmentPostage, "label_file", name)


def test_a_longer_return_window_keeps_the_label(labelled, channel):
    channel.return_window_days = 365
    channel.save(update_fields=["return_window_days"])
    order, _ = labelled(delivered_days_ago=200)
    retention_prune(now=NOW)
    assert label_kept(order)


def outbound(channel, *, status, sent_days_ago):
    return OutboundMessage.objects.create(
        channel=channel,
        platform="generic",
        kind=OutboundMessage.Kind.choices[0][0],
        dedupe_key=f"{status}-{sent_days_ago}",
        status=status,
        sent_at=days_ago(sent_days_ago),
    )


def test_old_delivered_outbound_messages_are_deleted_failed_ones_kept(channel):
    old = outbound(channel, status="sent", sent_days_ago=31)
    young = outbound(channel, status="sent", sent_days_ago=1)
    failed = outbound(channel, status="failed", sent_days_ago=400)
    retention_prune(now=NOW)
    assert set(OutboundMessage.objects.values_list("pk", flat=True)) == {
        young.pk,
        failed.pk,
    }
    assert old.pk not in set(OutboundMessage.objects.values_list("pk", flat=True))


def test_old_sent_customer_emails_go_with_the_outbox_failed_ones_stay(shipped, product):
    order = shipped([(product, 1)])
    emails = customer_emails(order=order)
    assert emails.exists()
    emails.update(status="sent", sent_at=days_ago(91))
    young = customer_emails(order=order).first()
    OutboundMessage.objects.filter(pk=young.pk).update(sent_at=days_ago(89))
    failed = OutboundMessage.objects.create(
        channel=order.channel,
        platform="email",
        kind="email.order_received",
        dedupe_key=f"{order.pk}:failed",
        order=order,
        to="a@example.com",
        status="failed",
    )
    retention_prune(now=NOW)
    assert set(customer_emails(order=order).values_list("pk", flat=True)) == {
        young.pk,
        failed.pk,
    }


def test_a_voided_label_file_goes_after_the_file_period(labelled):
    order, name = labelled(delivered_days_ago=1)
    ShipmentPostage.objects.filter(shipment__order=order).update(
        status=ShipmentPostage.Status.VOIDED, voided_at=days_ago(91)
    )
    retention_prune(now=NOW)
    assert not label_kept(order)
    assert not exists(ShipmentPostage, "label_file", name)


def return_label(order, carrier, *, number, bought_days_ago):
    name = store(ReturnLabel, "label_file", b"%PDF-1.4 return", "return.pdf")
    return ReturnLabel.objects.create(
        order=order,
        return_number=number,
        carrier=carrier,
        status=ReturnLabel.Status.BOUGHT,
        label_file=name,
        bought_at=days_ago(bought_days_ago),
    )


def test_a_return_label_is_kept_while_its_return_is_open(labelled, carrier):
    order, _ = labelled(delivered_days_ago=10)
    ReturnRequest.objects.create(number="RMA-OPEN", order=order)
    kept = return_label(order, carrier, number="RMA-OPEN", bought_days_ago=400)
    gone = return_label(order, carrier, number="RMA-DONE", bought_days_ago=400)
    retention_prune(now=NOW)
    kept.refresh_from_db()
    gone.refresh_from_db()
    assert kept.label_file and not gone.label_file
