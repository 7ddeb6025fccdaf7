"""CSV import: both formats, idempotency, partial imports, and every kind of
bad input refused with a clear message and nothing written."""

import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command

from inventory.models import StockLevel
from inventory.services import stock_receive
from orders.importing.reader import ImportFileError
from orders.importing.services import orders_import
from orders.models import Customer, Order, OrderEvent, OrderLine
from tests.factories import (
    ChannelFactory,
    CustomerFactory,
    LocationFactory,
    ProductFactory,
)
from tests.support.emails import customer_emails

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "docs" / "sample_orders.csv"
SHOPIFY = Path(__file__).parent / "data" / "shopify_orders.csv"
HEADER = [
    "order_ref",
    "channel",
    "placed_at",
    "customer_email",
    "customer_name",
    "ship_name",
    "ship_address1",
    "ship_city",
    "ship_region",
    "ship_postcode",
    "ship_country",
    "currency",
    "sku",
    "quantity",
    "unit_price",
    "shipping_amount",
]


def row(ref="A-1", sku="TSH-BLK-M", quantity="1", price="10.00", **changes):
    values = {
        "order_ref": ref,
        "channel": "web",
        "placed_at": "2026-11-20 10:00",
        "customer_email": "ada@example.com",
        "customer_name": "Ada Lovelace",
        "ship_name": "Ada Lovelace",
        "ship_address1": "1 Main St",
        "ship_city": "Austin",
        "ship_region": "TX",
        "ship_postcode": "78701",
        "ship_country": "US",
        "currency": "USD",
        "sku": sku,
        "quantity": quantity,
        "unit_price": price,
        "shipping_amount": "4.95",
    }
    values.update(changes)
    return values


def csv_bytes(rows, header=HEADER, delimiter=",", encoding="utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(
        buffer, fieldnames=header, delimiter=delimiter, extrasaction="ignore"
    )
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


@pytest.fixture
def catalogue(db):
    ChannelFactory(code="web", name="Web shop")
    ChannelFactory(code="phone", name="Phone")
    location = LocationFactory(code="RNO", ships_to="")
    products = {}
    for sku in ("TSH-BLK-M", "CAP-OLV-OS", "BTL-STL-OS", "HOO-OAT-L"):
        products[sku] = ProductFactory(sku=sku, name=f"Name of {sku}")
        StockLevel.objects.create(product=products[sku], location=location)
    return products


def nothing_written():
    return (
        Order.objects.count(),
        OrderLine.objects.count(),
        Customer.objects.count(),
    ) == (
        0,
        0,
        0,
    )


def run(data, **options):
    options.setdefault("actor", None)
    return orders_import(data=data, **options)


@pytest.mark.django_db
def test_own_format_sample_imports_orders_lines_and_customers(catalogue):
    result = run(SAMPLE.read_bytes())

    assert result.ok and result.written
    assert (result.orders, result.lines, len(result.new_customers)) == (3, 4, 3)
    order = Order.objects.get(external_id="WEB-50001")
    assert order.channel.code == "web"
    assert order.ship_country == "DE" and order.currency == "EUR"
    assert str(order.total) == "101.95"  # 2 × 34.00 + 29.00 + 4.95
    assert order.lines.count() == 2
    assert order.number.startswith("SO-")
    assert OrderEvent.objects.filter(order=order, kind="imported").exists()
    assert Order.objects.get(external_id="PHO-50003").channel.code == "phone"


@pytest.mark.django_db
def test_shopify_export_imports_open_orders_and_skips_fulfilled_and_cancelled(
    catalogue,
):
    web = ChannelFactory(code="web")
    existing = CustomerFactory(email="Edsger@Example.com")

    result = run(SHOPIFY.read_bytes(), channel=web)

    assert result.format == "shopify"
    assert result.ok and result.written
    assert sorted(Order.objects.values_list("external_id", flat=True)) == [
        "#1001",
        "#1004",
    ]
    assert {(ext, reason) for _, ext, reason in result.skipped_by_channel} == {
        ("#1002", "already fulfilled in Shopify"),
        ("#1003", "cancelled in Shopify"),
    }
    first = Order.objects.get(external_id="#1001")
    assert first.lines.count() == 2
    assert first.ship_postcode == "02108"
    assert str(first.shipping_amount) == "5.00" and str(first.tax_amount) == "8.00"
    assert first.placed_at.isoformat() == "2026-11-19T15:23:45+00:00"
    assert Order.objects.get(external_id="#1004").customer == existing


@pytest.mark.django_db
def test_reimport_skips_what_is_already_there(catalogue):
    run(SAMPLE.read_bytes())
    again = run(SAMPLE.read_bytes())

    assert again.orders == 0 and len(again.skipped_existing) == 3
    assert Order.objects.count() == 3
    assert (
        again.summary()
        == "imported 0 orders (0 lines), skipped 3 already imported, 0 errors"
    )


@pytest.mark.django_db
def test_dry_run_reports_and_writes_nothing(catalogue):
    result = run(SAMPLE.read_bytes(), dry_run=True)
    assert (result.orders, result.lines) == (3, 4)
    assert result.summary().startswith("would import 3 orders (4 lines)")
    assert nothing_written()


BAD_ROWS = [
    ("unknown-sku", [row(sku="NOPE-1")], "row 2, column sku: unknown SKU 'NOPE-1'"),
    (
        "zero-quantity",
        [row(quantity="0")],
        "row 2, column quantity: '0' is not a whole number",
    ),
    (
        "negative-quantity",
        [row(quantity="-2")],
        "column quantity: '-2' is not a whole number",
    ),
    (
        "fraction-quantity",
        [row(quantity="1.5")],
        "column quantity: '1.5' is not a whole number",
    ),
    (
        "text-quantity",
        [row(quantity="two")],
        "column quantity: 'two' is not a whole number",
    ),
    ("price", [row(price="ten")], "row 2, column unit_price: 'ten' is not a price"),
    (
        "country",
        [row(ship_country="Narnia")],
        "column ship_country: 'Narnia' is not a known country",
    ),
    (
        "disagreeing-rows",
        [row(), row(sku="CAP-OLV-OS", ship_city="Dallas")],
        "row 3, column ship_city: 'Dallas' differs from 'Austin' on row 2 of the same order A-1",
    ),
    (
        "email",
        [row(customer_email="not-an-email")],
        "column customer_email: 'not-an-email'",
    ),
    (
        "date",
        [row(placed_at="yesterday")],
        "column placed_at: 'yesterday' is not a date",
    ),
    ("channel", [row(channel="fax")], "column channel: unknown channel 'fax'"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rows", "message"), [c[1:] for c in BAD_ROWS], ids=[c[0] for c in BAD_ROWS]
)
def test_bad_value_is_reported_by_row_and_column_and_nothing_written(
    catalogue, rows, message
):
    good = row(ref="B-1", customer_email="grace@example.com")
    result = run(csv_bytes([*rows, good]))

    assert not result.written
    assert any(message in str(problem) for problem in result.problems), result.problems
    assert nothing_written()


FILE_ERRORS = [
    ("empty", b"", "is empty"),
    ("blank", b"\n\n  \n", "is empty"),
    ("header-only", csv_bytes([]), "has a header row but no orders"),
    ("not-csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not a CSV text file"),
    (
        "spreadsheet",
        b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40,
        "is not a CSV text file",
    ),
    (
        "no-separators",
        b"just some text\nand more\n",
        "its first line has no column separators",
    ),
    (
        "missing-columns",
        b"order_ref,sku,quantity\nA-1,TSH-BLK-M,1\n",
        "missing required columns: customer_email, ship_address1, ship_city",
    ),
    ("unknown-header", b"foo,bar\n1,2\n", "The header row matches no known format"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"), [c[1:] for c in FILE_ERRORS], ids=[c[0] for c in FILE_ERRORS]
)
def test_unreadable_file_is_refused_with_a_clear_message(catalogue, data, message):
    with pytest.raises(ImportFileError, match=None) as refused:
        run(data, filename="orders.csv")
    assert message in str(refused.value)
    assert nothing_written()


@pytest.mark.django_db
def test_oversized_file_is_refused_naming_the_limit(catalogue, settings):
    settings.OMS_IMPORT_MAX_BYTES = 1024 * 1024
    data = csv_bytes([row(ref=f"A-{n}") for n in range(9000)])
    assert len(data) > 1024 * 1024
    with pytest.raises(ImportFileError) as refused:
        run(data, filename="big.csv")
    assert "the limit is 1 MB" in str(refused.value)
    assert nothing_written()


@pytest.mark.django_db
def test_semicolon_file_with_decimal_commas_is_read(catalogue):
    result = run(csv_bytes([row(price="12,50")], delimiter=";"))
    assert result.written
    assert "semicolon" in result.notices[0]
    assert str(OrderLine.objects.get().unit_price) == "12.50"


@pytest.mark.django_db
def test_utf8_with_bom_is_read(catalogue):
    result = run(b"\xef\xbb\xbf" + csv_bytes([row(ship_name="Zoë Brontë")]))
    assert result.written
    assert Order.objects.get().ship_name == "Zoë Brontë"


@pytest.mark.django_db
def test_windows_1252_file_is_read(catalogue):
    result = run(
        csv_bytes([row(ship_city="Málaga", ship_country="ES")], encoding="cp1252")
    )
    assert result.written
    assert Order.objects.get().ship_city == "Málaga"
    assert "Windows-1252" in result.notices[0]


@pytest.mark.django_db
def test_partial_imports_whole_valid_orders_only(catalogue):
    rows = [
        row(ref="GOOD-1"),
        row(ref="BAD-1", customer_email="b@example.com"),
        row(ref="BAD-1", customer_email="b@example.com", sku="NOPE"),
        row(ref="GOOD-2", sku="CAP-OLV-OS"),
    ]
    result = run(csv_bytes(rows), partial=True)

    assert result.written and result.refused_orders == 1
    assert sorted(Order.objects.values_list("external_id", flat=True)) == [
        "GOOD-1",
        "GOOD-2",
    ]
    assert not Customer.objects.filter(email="b@example.com").exists()
    assert [str(p) for p in result.problems] == [
        "row 4, column sku: unknown SKU 'NOPE': add the product or correct the SKU."
    ]


@pytest.mark.django_db
def test_command_imports_allocates_and_prints_a_summary(catalogue, capsys):
    for level in StockLevel.objects.select_related("product", "location"):
        stock_receive(
            product=level.product, location=level.location, quantity=10, actor=None
        )
    call_command("import_orders", str(SAMPLE))
    out = capsys.readouterr().out
    assert out.strip().endswith(
        "imported 3 orders (4 lines), skipped 0 already imported, 0 errors"
    )
    assert set(Order.objects.values_list("status", flat=True)) == {"allocated"}
    assert customer_emails("order_received").count() == 3


@pytest.mark.django_db
def test_command_exits_non_zero_with_one_line_per_error(catalogue, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes([row(quantity="0"), row(ref="X", sku="NOPE")]))
    with pytest.raises(SystemExit) as exited:
        call_command("import_orders", str(path), "--channel", "web")
    assert exited.value.code == 1
    captured = capsys.readouterr()
    assert (
        "row 2, column quantity: '0' is not a whole number above zero." in captured.err
    )
    assert "row 3, column sku: unknown SKU 'NOPE'" in captured.err
    assert "imported 0 of 0 orders (0 lines), skipped 0 already imported, 2 errors" in (
        captured.out
    )
    assert nothing_written()


@pytest.mark.django_db
def test_command_dry_run_and_partial(catalogue, tmp_path, capsys):
    path = tmp_path / "mixed.csv"
    path.write_bytes(csv_bytes([row(ref="OK-1"), row(ref="BAD", sku="NOPE")]))
    with pytest.raises(SystemExit):
        call_command("import_orders", str(path), "--dry-run", "--partial")
    assert "would import 1 orders (1 lines)" in capsys.readouterr().out
    assert nothing_written()

    with pytest.raises(SystemExit):
        call_command("import_orders", str(path), "--partial")
    assert list(Order.objects.values_list("external_id", flat=True)) == ["OK-1"]
