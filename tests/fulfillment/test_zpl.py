"""ZPL labels print whole: long lines wrap at spaces within the label's
width, the print shrinks by the PDF label's rule when the lines do not fit,
and a label that fits at no size is refused with the shipment named."""

import re
from datetime import date

import pytest

from fulfillment import label_fit, zpl
from fulfillment.exceptions import LabelDoesNotFitError
from fulfillment.models import Shipment
from fulfillment.postage.labels import shipping_labels_zpl
from fulfillment.sheets import ShippingLabel
from orders.addresses import location_address, postal_address
from orders.models import Order
from tests.factories import ProductFactory
from tests.support.addresses import address_at_maximum, printed_lines

FIELD = re.compile(r"\^FO(\d+),(\d+)\^A0N,(\d+),\d+\^FH\^FD(.*?)\^FS")
SHORT = {
    "ship_country": "DE",
    "ship_name": "Erika Mustermann",
    "ship_address1": "Heidestraße 17",
    "ship_city": "Köln",
    "ship_postcode": "51147",
}


def label(address: dict, *, sender: str = "1200 Logistics Way\nReno, NV 89502"):
    return ShippingLabel(
        shipment_number="SH-000123",
        order_number="SO-000456",
        ship_from=location_address(name="Main warehouse", address=sender, country="US"),
        ship_to=postal_address(address),
        carrier="DHL",
        service="Paket",
        tracking_number="00340434161234567890",
        tracking_url="https://track.example/00340434161234567890",
        weight_kg="1.2",
        packages=1,
        shipped_on=date(2026, 12, 1),
    )


def unescaped(data: str) -> str:
    return re.sub(
        r"(?:_[0-9A-F]{2})+",
        lambda run: bytes.fromhex(run.group(0).replace("_", "")).decode(),
        data,
    )


def text_fields(block: str) -> list[tuple[int, int, int, str]]:
    """(x, y, size, text) of every text field of a label, top down."""
    return [
        (int(x), int(y), int(size), unescaped(data))
        for x, y, size, data in FIELD.findall(block)
    ]


def printed_text(block: str) -> str:
    return " ".join(text for *_, text in text_fields(block))


def test_wrap_breaks_a_long_line_at_spaces_within_the_width():
    line = "Kurfürstendamm 195 Hinterhaus Aufgang Süd Charlottenburg Wilmersdorf"

    lines = zpl.wrap(line, 40)

    assert len(lines) > 1
    assert " ".join(lines) == line
    assert all(zpl.text_width(part, 40) <= zpl.TEXT_WIDE for part in lines)


def test_wrap_breaks_a_word_wider_than_the_line_where_it_must():
    word = "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch"

    lines = zpl.wrap(word, 40, 300)

    assert "".join(lines) == word
    assert all(zpl.text_width(part, 40) <= 300 for part in lines)


def test_short_address_prints_in_normal_print_with_the_qr_code():
    block = zpl.label_zpl(label(SHORT))

    sizes = {text: size for _, _, size, text in text_fields(block)}
    assert sizes["Erika Mustermann"] == zpl.SIZES[0].name
    assert sizes["51147 Köln"] == zpl.SIZES[0].line
    assert "^BQN,2,5^FH^FDMA,https://track.example/" in block


def test_longest_german_address_shrinks_and_wraps_with_every_word_whole():
    address = address_at_maximum("german")

    block = zpl.label_zpl(label(address))

    fields = text_fields(block)
    right = zpl.DOTS_WIDE - zpl.MARGIN
    assert all(x + zpl.text_width(text, size) <= right for x, _, size, text in fields)
    assert max(size for *_, size, _ in fields) < zpl.SIZES[0].line
    printed = printed_text(block)
    for line in printed_lines(address):
        assert line in printed, line
    assert "10623 Berlin-Charlottenburg-Wilmersdorf" in printed
    tops = [y for _, y, _, _ in fields]
    assert tops == sorted(tops) and tops[-1] < zpl.DOTS_HIGH


def test_print_size_is_the_largest_that_fits_by_the_shared_rule():
    address = {**SHORT, "ship_address2": "Hinterhaus Aufgang Süd " * 12}
    record = label(address)

    block = zpl.label_zpl(record)

    fit = label_fit.label_fit(lambda size: zpl.label_drawn(record, size) is not None)
    assert fit is not None and fit > 0
    assert zpl.label_drawn(record, fit - 1) is None
    sizes = {text: size for _, _, size, text in text_fields(block)}
    assert sizes["Erika Mustermann"] == zpl.SIZES[fit].name


def test_long_word_takes_a_smaller_print_rather_than_breaking():
    town = "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch"
    address = {**SHORT, "ship_country": "GB", "ship_city": town}

    block = zpl.label_zpl(label(address))

    assert town in [text for *_, text in text_fields(block)]


def test_label_that_cannot_fit_is_refused_naming_the_shipment():
    sender = "\n".join(f"Building {n}, Gate {n}" for n in range(100))

    with pytest.raises(LabelDoesNotFitError) as refused:
        zpl.label_zpl(label(SHORT, sender=sender))

    assert "shipment SH-000123 (order SO-000456)" in str(refused.value)
    assert "Nothing was printed" in str(refused.value)


def test_batch_with_a_label_that_cannot_fit_prints_nothing_and_names_it():
    sender = "\n".join(f"Dock {n}" for n in range(120))
    fits = label(SHORT)
    crowded = label(SHORT, sender=sender)

    with pytest.raises(LabelDoesNotFitError) as refused:
        zpl.labels_zpl([fits, crowded, crowded])

    assert refused.value.labels == [label_fit.shipping_label_name(crowded)] * 2


@pytest.mark.django_db
def test_zpl_print_of_a_label_that_cannot_fit_is_refused_naming_the_shipment(
    shipped,
):
    order = shipped([(ProductFactory(), 1)])
    Order.objects.filter(pk=order.pk).update(**address_at_maximum("german"))
    shipment = Shipment.objects.get(order=order)
    shipment.location.address = "\n".join(f"Building {n}" for n in range(100))
    shipment.location.save()

    with pytest.raises(LabelDoesNotFitError) as refused:
        shipping_labels_zpl([shipment.pk])

    assert f"shipment {shipment.number} (order {order.number})" in str(refused.value)
