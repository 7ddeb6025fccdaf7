"""PDF documents read back: pages, text, sizes, barcodes, and a renderer that
fetches nothing but the project's static files."""

import io
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from fulfillment import documents, sheets
from fulfillment.models import DocumentKind, Shipment
from fulfillment.services.packing import shipment_pack
from fulfillment.services.shipping import shipment_ship
from inventory.models import StockLevel
from orders.models import Order
from tests.factories import LocationFactory, ProductFactory

pytestmark = pytest.mark.django_db

HAS_ZBAR = bool(shutil.which("zbarimg") and shutil.which("pdftoppm"))
needs_zbar = pytest.mark.skipif(
    not HAS_ZBAR,
    reason="zbarimg (zbar-tools) and pdftoppm (poppler-utils) are not installed; "
    "`make system` installs them as root",
)


def read(pdf: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(pdf))


def decode_barcodes(pdf: bytes, page: int = 1, dpi: int = 200) -> set[str]:
    """Rasterise one page and return what zbarimg reads on it."""
    png = subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-f", str(page), "-l", str(page), "-png", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    ).stdout
    result = subprocess.run(
        ["zbarimg", "--quiet", "-"], input=png, capture_output=True, check=False
    )
    return set(result.stdout.decode().split())


@pytest.fixture
def products(stock):
    made = []
    for n, size in enumerate(["S", "M", "L", "XL"]):
        product = ProductFactory(sku=f"TSH-BLK-{size}", name=f"Merino T-shirt, {size}")
        level = stock(product, 50)
        StockLevel.objects.filter(pk=level.pk).update(bin=f"A-0{4 - n}-1")
        made.append(product)
    return made


@pytest.fixture
def shipments(picked, products):
    """Three orders on one pick list; returns their shipments by number."""
    small, medium, large, extra = products
    picked([[(small, 1), (medium, 2)], [(large, 3)], [(medium, 1), (extra, 1)]])
    return list(Shipment.objects.order_by("number"))


@pytest.fixture
def shipped(shipments, user, carrier):
    for n, shipment in enumerate(shipments):
        shipment_pack(shipment=shipment, actor=user)
        shipment_ship(
            shipment=shipment,
            actor=user,
            carrier=carrier,
            service="Ground",
            tracking_number=f"1Z999AA1012345678{n}",
        )
    return list(Shipment.objects.order_by("number"))


def test_packing_slips_have_one_page_per_shipment_with_order_and_skus(shipments):
    rendered = documents.render(DocumentKind.PACKING_SLIP, [s.pk for s in shipments])

    pages = read(rendered.pdf).pages
    assert rendered.pages == len(pages) == len(shipments)
    for page, shipment in zip(pages, shipments, strict=True):
        text = page.extract_text()
        assert shipment.number in text
        assert shipment.order.number in text
        assert "Web shop" in text
        assert "Returns" in text
        for line in shipment.lines.select_related("order_line"):
            assert line.order_line.sku in text
    assert rendered.references == [s.number for s in shipments]


def test_shipping_labels_are_four_by_six_inches(shipped):
    rendered = documents.render(DocumentKind.SHIPPING_LABEL, [s.pk for s in shipped])

    pages = read(rendered.pdf).pages
    assert len(pages) == len(shipped)
    for page, shipment in zip(pages, shipped, strict=True):
        assert (float(page.mediabox.width), float(page.mediabox.height)) == (
            pytest.approx(288, abs=0.5),
            pytest.approx(432, abs=0.5),
        )
        text = page.extract_text()
        assert shipment.tracking_number in text
        assert shipment.order.number in text
        assert "Parcel Express" in text and "Ground" in text
        assert "Location RNO" in text


def test_pick_list_groups_by_sku_in_bin_order_with_orders(shipments):
    pick_list = shipments[0].pick_list
    sheet = sheets.pick_sheets(pick_list_ids=[pick_list.pk])[0]

    assert [row.bin for row in sheet.rows] == ["A-01-1", "A-02-1", "A-03-1", "A-04-1"]
    medium = next(row for row in sheet.rows if row.sku == "TSH-BLK-M")
    assert medium.total == 3
    assert [(d.order_number, d.quantity) for d in medium.destinations] == [
        (shipments[0].order.number, 2),
        (shipments[2].order.number, 1),
    ]
    text = (
        read(documents.render(DocumentKind.PICK_LIST, [pick_list.pk]).pdf)
        .pages[0]
        .extract_text()
    )
    assert pick_list.number in text
    assert text.index("A-01-1") < text.index("A-04-1")
    assert f"{shipments[0].order.number} × 2" in text


@needs_zbar
def test_packing_slip_barcode_decodes_to_the_shipment_number(shipments):
    rendered = documents.render(DocumentKind.PACKING_SLIP, [shipments[1].pk])
    assert f"CODE-128:{shipments[1].number}" in decode_barcodes(rendered.pdf)


@needs_zbar
def test_label_barcode_and_qr_decode_to_tracking_number_and_url(shipped):
    rendered = documents.render(DocumentKind.SHIPPING_LABEL, [shipped[0].pk])
    found = decode_barcodes(rendered.pdf, dpi=300)
    assert f"CODE-128:{shipped[0].tracking_number}" in found
    assert f"QR-Code:https://track.example/{shipped[0].tracking_number}" in found


@needs_zbar
def test_pick_list_sku_barcodes_decode(shipments):
    rendered = documents.render(DocumentKind.PICK_LIST, [shipments[0].pick_list_id])
    found = decode_barcodes(rendered.pdf, dpi=300)
    assert {"CODE-128:TSH-BLK-S", "CODE-128:TSH-BLK-XL"} <= found
    assert f"CODE-128:{shipments[0].pick_list.number}" in found


def test_document_queries_do_not_grow_with_shipments(picked, products, user):
    def count(kind, ids):
        with CaptureQueriesContext(connection) as captured:
            documents.page_records(kind, ids)
        return len(captured)

    picked([[(products[0], 1), (products[1], 1)]] * 2)
    few = list(Shipment.objects.values_list("pk", flat=True))
    picked([[(p, 1) for p in products]] * 12)
    many = list(Shipment.objects.values_list("pk", flat=True))
    pick_lists = list(Shipment.objects.values_list("pick_list", flat=True).distinct())

    for kind in (DocumentKind.PACKING_SLIP, DocumentKind.SHIPPING_LABEL):
        assert count(kind, few) == count(kind, many) <= 2
    assert (
        count(DocumentKind.PICK_LIST, pick_lists[:1])
        == count(DocumentKind.PICK_LIST, pick_lists)
        <= 3
    )


def test_parallel_rendering_keeps_page_order(shipments):
    records = documents.page_records(
        DocumentKind.PACKING_SLIP, [s.pk for s in shipments]
    ) * (documents.PARALLEL_FROM_PAGES // 3 + 1)
    progress = []

    pdf = documents.render_records(
        DocumentKind.PACKING_SLIP,
        records,
        workers=2,
        on_progress=lambda done, total: progress.append((done, total)),
    )

    pages = read(pdf).pages
    assert len(pages) == len(records)
    assert records[0].shipment_number in pages[0].extract_text()
    assert records[-1].shipment_number in pages[-1].extract_text()
    assert progress[-1] == (len(records), len(records))
    assert len(progress) > 1


# ---- the renderer fetches nothing outside the static files


class CountingHandler(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body { background: red }")

    def log_message(self, *args):
        """Quiet."""


@pytest.fixture
def listener():
    """A local HTTP server that counts the requests it gets."""
    CountingHandler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), CountingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", CountingHandler.requests
    server.shutdown()
    server.server_close()


def hostile_texts(base: str) -> dict[str, str]:
    return {
        "ship_name": '<img src="file:///etc/passwd">',
        "ship_company": f"<style>@import url({base}/import.css);</style>",
        "ship_address1": f'<div style="background: url({base}/bg.png)">x</div>',
        "ship_address2": '<link rel="attachment" href="file:///etc/passwd">',
    }


@pytest.mark.parametrize(
    "kind", [DocumentKind.PACKING_SLIP, DocumentKind.SHIPPING_LABEL]
)
def test_customer_html_is_printed_as_text_and_fetches_nothing(shipped, listener, kind):
    base, requests = listener
    texts = hostile_texts(base)
    Order.objects.filter(pk=shipped[0].order_id).update(**texts)
    records = documents.page_records(kind, [shipped[0].pk])
    fetcher = documents.StaticFilesFetcher()

    pdf = documents.html_to_pdf(documents.render_html(kind, records), fetcher=fetcher)

    assert requests == []
    assert fetcher.refused == []
    assert [url.rsplit("/", 2)[-2:] for url in fetcher.served] == [
        ["documents", "documents.css"]
    ]
    reader = read(pdf)
    assert not reader.attachments
    text = " ".join(reader.pages[0].extract_text().split())
    assert '<img src="file:///etc/passwd">' in text
    assert "<link" in text and "@import" in text
    assert "root:" not in text


def test_markup_that_reaches_the_renderer_still_fetches_nothing(listener):
    base, requests = listener
    html = (
        "<html><head>"
        f'<link rel="stylesheet" href="{base}/style.css">'
        f"<style>@import url({base}/import.css); body {{ background: url({base}/bg.png) }}</style>"
        '<link rel="attachment" href="file:///etc/passwd">'
        "</head><body>"
        '<img src="file:///etc/passwd"><img src="../../../../etc/passwd">'
        '<img src="documents/../../oms/settings.py">'
        f'<object data="{base}/object"></object>'
        "<p>Hello</p></body></html>"
    )
    fetcher = documents.StaticFilesFetcher()

    pdf = documents.html_to_pdf(html, fetcher=fetcher)

    assert requests == []
    assert fetcher.served == []
    refused = " ".join(fetcher.refused)
    for needle in ("/style.css", "/import.css", "/bg.png", "etc/passwd", "settings.py"):
        assert needle in refused
    reader = read(pdf)
    assert not reader.attachments
    assert "Hello" in reader.pages[0].extract_text()
    assert "root:" not in reader.pages[0].extract_text()


def test_fetcher_serves_static_files_only():
    fetcher = documents.StaticFilesFetcher()
    css = documents.document_base_url() + "documents/documents.css"

    assert b"DejaVu" in fetcher.fetch(css).read()
    for url in (
        "file:///etc/passwd",
        documents.document_base_url() + "../oms/settings.py",
        "http://127.0.0.1:9/x.css",
        "data:text/css,body{}",
    ):
        with pytest.raises(ValueError, match="only use the project's static files"):
            fetcher.fetch(url)


def test_two_locations_make_two_slips_for_one_order(picked, products, stock):
    east = LocationFactory(code="EAST", priority=50, name="East store")
    extra = ProductFactory(sku="CAP-OLV-OS")
    stock(extra, 5, at=east)
    picked([[(products[0], 1), (extra, 1)]])
    ids = list(Shipment.objects.values_list("pk", flat=True))

    pages = read(documents.render(DocumentKind.PACKING_SLIP, ids).pdf).pages

    assert len(pages) == 2
    order_number = Order.objects.get().number
    assert all(order_number in page.extract_text() for page in pages)
