"""4 × 6 in labels never clip an address: every line of every address the
model allows is printed whole, on one page per label, in any script; a
label that truly cannot fit is refused, naming the shipment."""

import io
import re
import unicodedata

import pytest
from pypdf import PdfReader

from fulfillment import documents
from fulfillment.exceptions import LabelDoesNotFitError
from fulfillment.models import DocumentKind, Shipment
from orders.addresses import postal_address
from orders.models import Order
from returns.documents import return_label_pdf
from returns.services.returns import ReturnLineInput, return_open
from tests.factories import ProductFactory

# Text in each script, cut to every field's maximum length below.
SCRIPTS = {
    "latin": ("US", "Wolfgang Amadeus Mozartstraße Hinterhaus Aufgang "),
    "latin-no-spaces": ("US", "W"),
    "cjk": ("JP", "東京都千代田区丸の内一丁目株式会社山田商事"),
    "cyrillic": ("RU", "Москва улица Тверская дом строение корпус "),
    "arabic": ("EG", "شارع الملك فهد مبنى الشركة العربية القاهرة "),
}
ADDRESS_FIELDS = (
    "ship_name",
    "ship_company",
    "ship_address1",
    "ship_address2",
    "ship_city",
    "ship_region",
    "ship_postcode",
    "ship_phone",
)


def longest(text: str, field: str) -> str:
    """`text` repeated to the field's maximum length."""
    size = Order._meta.get_field(field).max_length
    return (text * (size // len(text) + 1))[:size].strip()


def at_maximum(script: str) -> dict[str, str]:
    country, text = SCRIPTS[script]
    values = {field: longest(text, field) for field in ADDRESS_FIELDS}
    values["ship_phone"] = longest("+81 3 1234 5678 ", "ship_phone")
    values["ship_country"] = country
    return values


def comparable(text: str) -> str:
    """Text as found in a PDF: compatibility forms folded (Arabic letters are
    drawn in their joined forms), no whitespace (lines wrap anywhere)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def pdf_pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def printed_lines(order: Order) -> list[str]:
    address = postal_address(order)
    return [
        address.name,
        address.company,
        *address.lines,
        address.country,
        address.phone,
    ]


def assert_printed_whole(lines: list[str], page_text: str) -> None:
    found = comparable(page_text)
    for line in lines:
        assert comparable(line) in found, line


@pytest.fixture
def return_of(user):
    """Open a return of every unit of a shipped order."""

    def make(order):
        line = order.lines.get()
        return return_open(
            order=order,
            lines=[ReturnLineInput(order_line=line, quantity=1, reason="does_not_fit")],
            actor=user,
        )

    return make


@pytest.fixture
def labels(shipped):
    """Shipments whose orders carry an address at every field's maximum."""

    def make(scripts):
        shipments = []
        for script in scripts:
            order = shipped([(ProductFactory(), 1)])
            Order.objects.filter(pk=order.pk).update(**at_maximum(script))
            shipments.append(Shipment.objects.get(order=order))
        return shipments

    return make


@pytest.mark.django_db
@pytest.mark.parametrize("script", list(SCRIPTS))
def test_longest_address_in_every_script_prints_whole_on_one_page(labels, script):
    (shipment,) = labels([script])

    rendered = documents.render(DocumentKind.SHIPPING_LABEL, [shipment.pk])

    assert rendered.pages == 1
    (text,) = pdf_pages(rendered.pdf)
    assert_printed_whole(printed_lines(shipment.order), text)
    assert shipment.number in text and shipment.tracking_number in text


@pytest.mark.django_db
def test_batch_of_long_and_short_labels_has_one_page_per_label_in_order(
    labels, shipped
):
    short = Shipment.objects.get(order=shipped([(ProductFactory(), 1)]))
    long_ones = labels(list(SCRIPTS))
    shipments = sorted([short, *long_ones], key=lambda s: s.number)

    rendered = documents.render(DocumentKind.SHIPPING_LABEL, [s.pk for s in shipments])

    assert rendered.pages == len(shipments)
    for shipment, text in zip(shipments, pdf_pages(rendered.pdf), strict=True):
        assert shipment.number in text
        assert_printed_whole(printed_lines(shipment.order), text)


@pytest.mark.django_db
def test_label_that_cannot_fit_is_refused_naming_the_shipment(labels):
    (shipment,) = labels(["latin"])
    # The sender's address is free text with no limit: a hundred lines of it
    # cannot share a 4 × 6 in label with anything.
    location = shipment.location
    location.address = "\n".join(f"Building {n}, Gate {n}" for n in range(100))
    location.save()

    with pytest.raises(LabelDoesNotFitError) as refused:
        documents.render(DocumentKind.SHIPPING_LABEL, [shipment.pk])

    assert f"shipment {shipment.number} (order {shipment.order.number})" in str(
        refused.value
    )
    assert "Nothing was printed" in str(refused.value)


@pytest.mark.django_db
def test_admin_shows_the_refusal_instead_of_a_clipped_label(admin_client, labels):
    (shipment,) = labels(["latin"])
    shipment.location.address = "\n".join(f"Dock {n}" for n in range(120))
    shipment.location.save()

    response = admin_client.post(
        "/admin/orders/order/",
        {"action": "print_shipping_labels", "_selected_action": [shipment.order_id]},
        follow=True,
    )

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert f"shipment {shipment.number}" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("script", ["latin", "cjk", "arabic"])
def test_return_label_prints_the_longest_address_whole(labels, return_of, script):
    (shipment,) = labels([script])
    rma = return_of(shipment.order)

    pdf = return_label_pdf(return_request=rma)

    (text,) = pdf_pages(pdf)
    assert_printed_whole(printed_lines(shipment.order), text)


@pytest.mark.django_db
def test_return_label_prints_each_country_once(shipped, return_of):
    order = shipped([(ProductFactory(), 1)], country="DE")
    shipment = Shipment.objects.get(order=order)
    shipment.location.address = "1200 Logistics Way\nReno, NV 89502\nUnited States"
    shipment.location.country = "US"
    shipment.location.save()

    (text,) = pdf_pages(return_label_pdf(return_request=return_of(order)))

    assert text.count("United States") == 1
    assert text.count("Germany") == 1
    assert "Reno, NV 89502" in text and "10115 Berlin" in text
