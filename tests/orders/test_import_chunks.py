"""An import bigger than a chunk (`OMS_IMPORT_CHUNK_ORDERS`): checked whole
before anything is written, then written a chunk per transaction, each
committed settled; a refused file writes nothing; an import stopped between
chunks resumes when run again; the check's memory does not grow with the
file (`orders.importing.chunks`)."""

import tracemalloc
from dataclasses import fields
from decimal import Decimal

import pytest

from orders.importing import chunks, reader, services
from orders.importing.confirm import import_confirm
from orders.importing.formats import detect_format
from orders.importing.services import orders_import
from orders.importing.validate import orders_parse
from orders.models import EmailKind, Order, OrderLine, OrderStatus
from tests import factories
from tests.orders.test_import import csv_bytes, row
from tests.support.emails import customer_emails

pytestmark = pytest.mark.django_db

CHUNK = 3
ORDERS = 40  # 80 rows: more than `keep_lines(CHUNK)`, so the file is streamed


@pytest.fixture
def shop(db, stock, settings):
    """Channel "web"; 40 T-shirts and 30 caps in stock; chunks of 3 orders."""
    settings.OMS_IMPORT_CHUNK_ORDERS = CHUNK
    factories.ChannelFactory(code="web", name="Web shop")
    stock(factories.ProductFactory(sku="TSH-BLK-M"), 40)
    stock(factories.ProductFactory(sku="CAP-OLV-OS"), 30)


def big_file(orders: int = ORDERS, *, apart: bool = True) -> bytes:
    """Each order a T-shirt and a cap; `apart`, its cap's row after all the
    T-shirts' (an order's rows need not be next to each other), else next to
    its T-shirt's."""
    refs = [f"B-{n:03d}" for n in range(1, orders + 1)]
    shirts = [row(ref=ref, sku="TSH-BLK-M") for ref in refs]
    caps = [row(ref=ref, sku="CAP-OLV-OS") for ref in refs]
    if apart:
        return csv_bytes(shirts + caps)
    return csv_bytes([line for pair in zip(shirts, caps, strict=True) for line in pair])


def confirm(data: bytes, progress=None):
    return import_confirm(
        data=data,
        actor=None,
        channel=None,
        format_code="auto",
        filename="big.csv",
        partial=False,
        progress=progress,
    )


def test_file_of_many_chunks_imports_every_order_settled_a_chunk_at_a_time(shop):
    reported = []
    confirmed = confirm(big_file(), progress=lambda *step: reported.append(step))

    result = confirmed.result
    assert (result.orders, result.lines, result.written) == (40, 80, True)
    assert Order.objects.count() == 40 and OrderLine.objects.count() == 80
    # Stock for 30 orders: across chunks, the file's order decides.
    backordered = Order.objects.filter(status=OrderStatus.BACKORDERED)
    assert confirmed.allocated == 30
    assert sorted(backordered.values_list("external_id", flat=True)) == [
        f"B-{n:03d}" for n in range(31, 41)
    ]
    assert customer_emails(EmailKind.RECEIVED).count() == 40
    writes = [done for stage, done, _ in reported if stage in ("writing", "written")]
    # One report per chunk (14 of 3 orders, 6 lines), after the start's.
    assert writes[1:-1] == [min(6 * n, 80) for n in range(1, 15)]


def test_big_file_with_a_problem_in_its_last_order_writes_nothing(shop):
    data = big_file()[:-1] + b"\nB-999,web,2026-11-20 10:00,,,,,,,,,,NOPE,1,1\n"

    result = confirm(data).result

    assert not result.written and result.problems
    assert "unknown SKU 'NOPE'" in str(result.problems[-1])
    assert Order.objects.count() == 0 and OrderLine.objects.count() == 0


def test_import_stopped_between_chunks_resumes_when_run_again(shop, monkeypatch):
    chunks_done = 0

    def stop_in_third_chunk(point: str) -> None:
        nonlocal chunks_done
        chunks_done += 1
        if chunks_done == 3:
            raise SystemExit("worker killed")

    monkeypatch.setattr(services, "fault_pause", stop_in_third_chunk)
    with pytest.raises(SystemExit):
        confirm(big_file())
    # The two chunks committed stay, settled; the third rolled back.
    assert Order.objects.count() == 2 * CHUNK
    assert not Order.objects.filter(status=OrderStatus.PENDING).exists()

    monkeypatch.setattr(services, "fault_pause", lambda point: None)
    result = confirm(big_file()).result

    assert (result.orders, len(result.skipped_existing)) == (40 - 6, 6)
    assert Order.objects.count() == 40
    assert Order.objects.values("external_id").distinct().count() == 40
    assert customer_emails(EmailKind.RECEIVED).count() == 40


def peak_checking(lines: int) -> int:
    data = big_file(lines // 2, apart=False)
    tracemalloc.start()
    try:
        result = orders_import(data=data, actor=None, dry_run=True)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        assert result.orders == lines // 2


def test_checking_a_file_four_times_bigger_does_not_hold_four_times_the_orders(
    shop, settings, monkeypatch
):
    settings.OMS_IMPORT_CHUNK_ORDERS = 10  # streamed from 240 rows
    # Blocks far smaller than the files, as a megabyte is to a big file's.
    monkeypatch.setattr(reader, "BLOCK_BYTES", 8192)
    # The bounded caches of checked values (`orders.importing.values`) filled
    # first: they hold every value of these files, the orders held aside.
    # (An order whose rows span the file is held until its last row.)
    peak_checking(4000)
    small, big = peak_checking(1000), peak_checking(4000)

    # What grows is the index of order references (`rows_index`), about 150
    # bytes an order; a checked order held is kilobytes (its values, lines,
    # Decimals): 1,500 more orders held would add megabytes.
    assert big - small < 1500 * 400, (small, big)


def checked_orders(data: bytes) -> list:
    table = reader.read_table(data, max_bytes=1 << 20)
    return list(orders_parse(table, detect_format(table.header, "auto"), loose=[]))


def test_spooled_chunk_reads_back_as_the_write_reads_it(shop):
    given = checked_orders(
        csv_bytes(
            [
                row(ref="S-1", price="12.5", shipping_amount="4.95"),
                row(ref="S-1", sku="CAP-OLV-OS", quantity="3", price="0.333"),
                row(ref="S-2", price="7", placed_at="2026-11-20 10:00:00 +0530"),
            ],
        )
    )
    given[0].channel_id, given[0].customer_id = 1, None
    given[1].channel_id, given[1].customer_id = 1, 42
    given[1].note_attributes = [{"name": "gift", "value": "yes"}]
    given[1].stated_total = Decimal("7.00")
    spool = chunks.CheckedChunks(on_disk=True)

    try:
        spool.add(given)
        (back,) = list(spool)
    finally:
        spool.close()

    for order, read in zip(given, back, strict=True):
        for name in {f.name for f in fields(order)} - {"values", "raw"}:
            # Equal, and Decimals with the same exponent ("12.50", "0E-6").
            assert repr(getattr(read, name)) == repr(getattr(order, name)), name
        assert read.placed_at.tzinfo == order.placed_at.tzinfo
        assert read.values == {
            name: value
            for name, value in order.values.items()
            if name in chunks.SPOOLED_VALUES
        }


@pytest.mark.parametrize(
    "quoted", [False, True], ids=["lines read as rows", "CSV reader"]
)
def test_rows_index_gives_each_reference_its_last_row(quoted):
    rows = [row(ref="I-1"), row(ref="I-2"), row(ref="I-1", sku="CAP-OLV-OS")]
    if quoted:
        rows[1]["ship_address1"] = "1 Main St,\nFlat 2"  # a cell over two lines
    data = csv_bytes(rows) + b",,,\r\n" + b"I-3" + b",web" * 3  # no line end
    table = reader.read_table(data, max_bytes=1 << 20)

    last_rows, _ = chunks.rows_index(table, detect_format(table.header, "auto"))

    # Numbered as the CSV reader numbers rows (a row over two lines is one).
    assert last_rows == {"I-1": 4, "I-2": 3, "I-3": 6}
    assert last_rows == {
        cells[0]: number for number, cells in table.rows if cells[0].strip()
    }
