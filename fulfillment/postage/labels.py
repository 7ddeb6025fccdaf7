"""Bought labels in the batch printing: EasyPost's labels in the format they
came in, read from their bytes (PDF, PNG or ZPL, whatever was asked for),
merged with our own into one 4 × 6 in PDF — a PNG label placed on a 4 × 6 in
page — and ZPL for locations with thermal printers (EasyPost's ZPL labels,
and ours drawn by `fulfillment.zpl`)."""

import io
import math
from collections.abc import Callable, Sequence

from django.db.models import Model
from PIL import Image, UnidentifiedImageError
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError

from core.files import file_read, file_store
from fulfillment import sheets, zpl
from fulfillment.exceptions import FulfillmentError
from fulfillment.models import Shipment
from fulfillment.models.postage import (
    LabelFileFormat,
    LabelFormat,
    LocationPostage,
    ShipmentPostage,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A PDF reader looks for the header within the first 1024 bytes.
PDF_HEADER_WINDOW = 1024
# Label pages are 4 × 6 in; PDF points are 1/72 in.
LABEL_WIDTH_IN, LABEL_HEIGHT_IN = 4, 6


def label_format_of(data: bytes) -> str:
    """Return the format of a label file from its bytes: PDF (`%PDF-`), PNG
    (its signature) or ZPL (`^XA`, possibly after `~` setup commands); ""
    for anything else."""
    head = bytes(data[:PDF_HEADER_WINDOW])
    if b"%PDF-" in head:
        return LabelFileFormat.PDF
    if head.startswith(PNG_SIGNATURE):
        return LabelFileFormat.PNG
    if head.lstrip().startswith((b"^XA", b"~")) and b"^XA" in bytes(data[:4096]):
        return LabelFileFormat.ZPL
    return ""


def label_store(*, model: type[Model], stem: str, content: bytes) -> str:
    """Keep a bought label (a shipment's or a return's) in the storage under
    `stem` and the suffix of its format; return the name kept."""
    found = label_format_of(content)
    suffix = f".{found.lower()}" if found else ".bin"
    return file_store(
        model=model, field="label_file", filename=f"{stem}{suffix}", content=content
    )


def label_read(*, model: type[Model], name: str) -> bytes:
    """Return the bytes of a kept label."""
    return file_read(model=model, field="label_file", name=name)


def label_format_note(*, found: str, asked: str) -> str:
    """Say how a bought label's format differs from the one asked for, and
    how it prints; "" when it is the one asked for."""
    if not asked or found == asked:
        return ""
    if not found:
        return (
            f"EasyPost sent a label file that is not PDF, PNG or ZPL although "
            f"{asked} was asked; it cannot be printed here: download it from "
            "EasyPost, or void it and buy again."
        )
    if found == LabelFileFormat.ZPL:
        how = "it prints only on a ZPL printer (Print shipping labels gives a .zpl)"
    elif asked == LabelFormat.ZPL:
        how = "it cannot go to the ZPL printer: it prints as a 4×6 in PDF"
    else:
        how = "it prints inside the 4×6 in PDF labels"
    return f"EasyPost sent a {found} label although {asked} was asked; {how}."


def postage_label_note(postage: ShipmentPostage) -> str:
    """The format note of a shipment's bought label ("" when it came as
    asked, or when no label is bought)."""
    if postage.status != ShipmentPostage.Status.BOUGHT:
        return ""
    return label_format_note(
        found=postage.label_format, asked=postage.label_format_asked
    )


def shipment_label_text(shipment_id: int) -> str:
    """Describe the label bought for a shipment through EasyPost: carrier,
    tracking, the format of its file, and a note when that format is not the
    one asked for; "" when none is bought. One query."""
    postage = (
        ShipmentPostage.objects.filter(
            shipment_id=shipment_id, status=ShipmentPostage.Status.BOUGHT
        )
        .only(
            "status",
            "label_carrier",
            "label_service",
            "tracking_code",
            "label_format",
            "label_format_asked",
        )
        .first()
    )
    if postage is None:
        return ""
    what = postage.get_label_format_display() if postage.label_format else "unknown"
    text = (
        f"{postage.label_carrier} {postage.label_service} {postage.tracking_code}: "
        f"{what} label."
    )
    note = postage_label_note(postage)
    return f"{text} {note}" if note else text


def bought_labels(shipment_ids: Sequence[int]) -> dict[int, tuple[str, str, bytes]]:
    """Return the bought labels of these shipments: pk → (shipment number,
    format read from the file, file)."""
    rows = ShipmentPostage.objects.filter(
        shipment_id__in=list(shipment_ids),
        status=ShipmentPostage.Status.BOUGHT,
        label_file__isnull=False,
    ).values_list("shipment_id", "shipment__number", "label_file")
    labels = {}
    for pk, number, name in rows:
        data = label_read(model=ShipmentPostage, name=name)
        labels[pk] = (number, label_format_of(data), data)
    return labels


def png_label_pages(data: bytes, name: str) -> list:
    """Return a PNG label as one 4 × 6 in PDF page: the image at its own
    resolution, turned upright when it is landscape, centred on white."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            image = (
                opened.rotate(90, expand=True)
                if opened.width > opened.height
                else opened
            )
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                rgba = image.convert("RGBA")
                image = Image.new("RGB", rgba.size, "white")
                image.paste(rgba, mask=rgba.getchannel("A"))
            elif image.mode not in ("1", "L", "RGB"):
                image = image.convert("RGB")
            # The page is the image's own pixels widened (or lengthened) to
            # 2:3, so it prints at its resolution with nothing cut off.
            width = max(image.width, math.ceil(image.height * 2 / 3))
            width += width % 2
            page = Image.new(image.mode, (width, width * 3 // 2), "white")
            page.paste(
                image, ((width - image.width) // 2, (page.height - image.height) // 2)
            )
            out = io.BytesIO()
            page.save(out, "PDF", resolution=width / LABEL_WIDTH_IN)
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        Image.DecompressionBombError,
    ) as error:
        raise FulfillmentError(
            f"The label of {name} from EasyPost is not a readable PNG "
            f"image ({error}); download it from EasyPost, or void it and buy again."
        ) from error
    return list(PdfReader(io.BytesIO(out.getvalue())).pages)


def _pdf_pages(data: bytes, name: str) -> list:
    try:
        return list(PdfReader(io.BytesIO(data)).pages)
    except (PdfReadError, ValueError, OSError) as error:
        raise FulfillmentError(
            f"The label of {name} from EasyPost is not a readable PDF "
            f"({error}); download it from EasyPost, or void it and buy again."
        ) from error


def label_as_pdf(data: bytes, name: str) -> bytes:
    """Return a bought label as a PDF: a PDF as it came, a PNG on a 4 × 6 in
    page. Raises FulfillmentError (naming `name`, e.g. "return RMA-000001")
    for a ZPL label or a file of no known format."""
    found = label_format_of(data)
    if found == LabelFileFormat.PDF:
        return bytes(data)
    if found != LabelFileFormat.PNG:
        raise FulfillmentError(
            f"The label of {name} came from EasyPost as "
            f"{found or 'a file that is not PDF, PNG or ZPL'} and cannot be "
            "printed as a PDF; download it from EasyPost."
        )
    writer = PdfWriter()
    for page in png_label_pages(data, name):
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _unprintable_in_pdf(bought: dict[int, tuple[str, str, bytes]]) -> None:
    """Refuse a PDF batch holding labels that cannot be pages of a PDF."""
    as_zpl = sorted(n for n, fmt, _ in bought.values() if fmt == LabelFileFormat.ZPL)
    unknown = sorted(n for n, fmt, _ in bought.values() if not fmt)
    problems = []
    if as_zpl:
        problems.append(
            "These labels came from EasyPost as ZPL and print only on a ZPL "
            f"printer: {', '.join(as_zpl)}. Print them apart, from a location "
            "that prints ZPL."
        )
    if unknown:
        problems.append(
            "These labels came from EasyPost in a format that is not PDF, PNG or "
            f"ZPL: {', '.join(unknown)}. Download them from EasyPost, or void "
            "them and buy again."
        )
    if problems:
        raise FulfillmentError(" ".join(problems))


def pdf_with_bought_labels(
    shipment_ids: Sequence[int],
    render_own: Callable[[Sequence[int]], tuple[bytes, list[str]]],
) -> tuple[bytes, list[str]] | None:
    """Return one PDF of these shipments' labels in shipment number order,
    bought labels as EasyPost made them (a PDF's pages, a PNG on a 4 × 6 in
    page), the others rendered by `render_own(ids) -> (pdf, numbers)`; None
    when none is bought. A bought ZPL label (or a file of no known format)
    cannot be a page: the batch is refused, naming them."""
    bought = bought_labels(shipment_ids)
    if not bought:
        return None
    _unprintable_in_pdf(bought)
    pages: dict[str, list] = {}
    own_ids = [pk for pk in shipment_ids if pk not in bought]
    if own_ids:
        own_pdf, own_numbers = render_own(own_ids)
        reader = PdfReader(io.BytesIO(own_pdf))
        # Our labels are one page each, in number order.
        for number, page in zip(own_numbers, reader.pages, strict=False):
            pages[number] = [page]
    for number, fmt, data in bought.values():
        if fmt == LabelFileFormat.PNG:
            pages[number] = png_label_pages(data, f"shipment {number}")
        else:
            pages[number] = _pdf_pages(data, f"shipment {number}")
    writer = PdfWriter()
    numbers = sorted(pages)
    for number in numbers:
        for page in pages[number]:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), numbers


def zpl_preferred(shipment_ids: Sequence[int]) -> bool:
    """Say whether these shipments' labels print as ZPL: every location of
    them prints ZPL, or every label bought for them came as ZPL. A label that
    came from EasyPost as PDF or PNG prints as PDF, whatever the location
    prefers."""
    ids = list(shipment_ids)
    bought = set(
        ShipmentPostage.objects.filter(
            shipment_id__in=ids,
            status=ShipmentPostage.Status.BOUGHT,
            label_file__isnull=False,
        ).values_list("label_format", flat=True)
    )
    if bought and LabelFileFormat.ZPL not in bought:
        return False
    locations = set(
        Shipment.objects.filter(pk__in=ids).values_list("location_id", flat=True)
    )
    zpl_locations = set(
        LocationPostage.objects.filter(
            location_id__in=locations, label_format=LabelFormat.ZPL
        ).values_list("location_id", flat=True)
    )
    return bool(locations) and (locations == zpl_locations or bought == {"ZPL"})


def shipping_labels_zpl(shipment_ids: Sequence[int]) -> tuple[str, list[str]]:
    """Return the ZPL of these shipments' labels in shipment number order:
    bought ZPL labels as EasyPost made them, ours drawn in ZPL.

    Raises LabelDoesNotFitError, naming each shipment, when any of ours
    cannot print whole: then nothing is printed."""
    bought = bought_labels(shipment_ids)
    not_zpl = sorted(
        f"{n} ({fmt or 'unknown format'})"
        for n, fmt, _ in bought.values()
        if fmt != LabelFileFormat.ZPL
    )
    if not_zpl:
        raise FulfillmentError(
            "These labels came from EasyPost in another format than ZPL and "
            "cannot print on a ZPL printer: "
            + ", ".join(not_zpl)
            + ". Select them alone and print them: they print as a 4×6 in PDF."
        )
    blocks = {
        number: data.decode("utf-8", "replace").strip()
        for number, _, data in bought.values()
    }
    own_ids = [pk for pk in shipment_ids if pk not in bought]
    own = sheets.shipping_labels(shipment_ids=own_ids)
    for label, block in zip(own, zpl.label_blocks(own), strict=True):
        blocks[label.shipment_number] = block
    numbers = sorted(blocks)
    return "\n".join(blocks[n] for n in numbers) + "\n", numbers
