"""Bought labels in the batch printing: EasyPost's PDF labels merged with
our own into one 4 × 6 in PDF, and ZPL for locations with thermal printers
(EasyPost's ZPL labels, and ours drawn by `fulfillment.zpl`)."""

import io
from collections.abc import Callable, Sequence

from pypdf import PdfReader, PdfWriter

from fulfillment import selectors, zpl
from fulfillment.exceptions import FulfillmentError
from fulfillment.models import Shipment
from fulfillment.models.postage import LabelFormat, LocationPostage, ShipmentPostage


def bought_labels(shipment_ids: Sequence[int]) -> dict[int, tuple[str, str, bytes]]:
    """Return the bought labels of these shipments: pk → (shipment number,
    format, file)."""
    rows = ShipmentPostage.objects.filter(
        shipment_id__in=list(shipment_ids),
        status=ShipmentPostage.Status.BOUGHT,
        label_file__isnull=False,
    ).values_list("shipment_id", "shipment__number", "label_format", "label_file")
    return {pk: (number, fmt, bytes(file)) for pk, number, fmt, file in rows}


def pdf_with_bought_labels(
    shipment_ids: Sequence[int],
    render_own: Callable[[Sequence[int]], tuple[bytes, list[str]]],
) -> tuple[bytes, list[str]] | None:
    """Return one PDF of these shipments' labels in shipment number order,
    bought PDF labels as EasyPost made them, the others rendered by
    `render_own(ids) -> (pdf, numbers)`; None when none is bought."""
    bought = {
        pk: (number, data)
        for pk, (number, fmt, data) in bought_labels(shipment_ids).items()
        if fmt == LabelFormat.PDF
    }
    if not bought:
        return None
    pages: dict[str, list] = {}
    own_ids = [pk for pk in shipment_ids if pk not in bought]
    if own_ids:
        own_pdf, own_numbers = render_own(own_ids)
        reader = PdfReader(io.BytesIO(own_pdf))
        # Our labels are one page each, in number order.
        for number, page in zip(own_numbers, reader.pages, strict=False):
            pages[number] = [page]
    for number, data in bought.values():
        pages[number] = list(PdfReader(io.BytesIO(data)).pages)
    writer = PdfWriter()
    numbers = sorted(pages)
    for number in numbers:
        for page in pages[number]:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), numbers


def zpl_preferred(shipment_ids: Sequence[int]) -> bool:
    """Say whether every location of these shipments prints ZPL labels."""
    locations = set(
        Shipment.objects.filter(pk__in=list(shipment_ids)).values_list(
            "location_id", flat=True
        )
    )
    zpl_locations = set(
        LocationPostage.objects.filter(
            location_id__in=locations, label_format=LabelFormat.ZPL
        ).values_list("location_id", flat=True)
    )
    return bool(locations) and locations == zpl_locations


def shipping_labels_zpl(shipment_ids: Sequence[int]) -> tuple[str, list[str]]:
    """Return the ZPL of these shipments' labels in shipment number order:
    bought ZPL labels as EasyPost made them, ours drawn in ZPL."""
    bought = bought_labels(shipment_ids)
    pdf_only = sorted(n for n, fmt, _ in bought.values() if fmt != LabelFormat.ZPL)
    if pdf_only:
        raise FulfillmentError(
            "These labels were bought as PDF and cannot print as ZPL: "
            + ", ".join(pdf_only)
            + ". Print them as PDF (4×6 in)."
        )
    blocks = {
        number: data.decode("utf-8", "replace").strip()
        for number, _, data in bought.values()
    }
    own_ids = [pk for pk in shipment_ids if pk not in bought]
    for label in selectors.shipping_labels(shipment_ids=own_ids):
        blocks[label.shipment_number] = zpl.label_zpl(label)
    numbers = sorted(blocks)
    return "\n".join(blocks[n] for n in numbers) + "\n", numbers
