"""Shipping labels in ZPL II for thermal printers: today's 4 × 6 in layout
(ship-from, ship-to, carrier and service, Code 128 of the tracking number,
QR of the tracking page) at 203 dpi, one `^XA … ^XZ` block per label.

Every line prints whole, as on the PDF label: a line wider than the label
wraps at spaces (a single word wider than the label breaks where it must),
measured with the widths of the printer's font 0, and a label whose lines do
not fit in normal print takes the first smaller print that holds them — the
sizing rule of `fulfillment.label_fit`, shared with the PDF. A label that
fits at no size is refused with the shipment named (LabelDoesNotFitError).

Text goes through `^FH` hex escapes, so a customer's `^` or `~` can never
become a printer command; `^CI28` makes the printer read UTF-8.
"""

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from fulfillment.label_fit import LABEL_FITS, labels_fit, shipping_label_name

DOTS_WIDE = 812  # 4 in at 203 dpi
DOTS_HIGH = 1218  # 6 in
MARGIN = 30
TEXT_WIDE = DOTS_WIDE - 2 * MARGIN
# The tracking page's QR code sits in the bottom right corner; the Code 128
# barcode (180 dots of bars, its number under them) stands above it.
QR_TOP = DOTS_HIGH - 260
BARCODE_BLOCK = 225
_SAFE = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,-/:#()&'+@*!?=%"
)
_ESCAPED: dict[str, str] = {}


@dataclass(frozen=True)
class Sizes:
    """Character heights in dots (font 0, as wide as high) of one print size."""

    sender: int
    heading: int
    name: int
    line: int
    carrier: int
    details: int


# The PDF label's print sizes (the `.label.fit-N` rules in documents.css) at
# 203 dpi, normal print first; 20 dots (2.5 mm) is the smallest that stays
# readable on a thermal label.
SIZES = (
    Sizes(sender=24, heading=30, name=44, line=40, carrier=34, details=24),
    Sizes(sender=24, heading=30, name=39, line=35, carrier=34, details=24),
    Sizes(sender=21, heading=26, name=34, line=30, carrier=34, details=24),
    Sizes(sender=21, heading=26, name=29, line=27, carrier=28, details=21),
    Sizes(sender=20, heading=22, name=25, line=24, carrier=28, details=21),
    Sizes(sender=20, heading=22, name=20, line=20, carrier=28, details=21),
)
assert len(SIZES) == LABEL_FITS

# Advance widths of font 0 (CG Triumvirate Bold Condensed) as a share of the
# character height, each rounded up from a rendering of the character; an
# accented letter is as wide as its base letter, a character of another
# script is taken to be as wide as it is high (font 0 has none: a printer
# needs a downloaded font for it, and the label is then narrower, not wider).
_WIDTHS: dict[str, float] = {
    **dict.fromkeys(" !\"'(),./:;I[\\]`fijlrt{|}", 0.34),
    **dict.fromkeys("Jcksvxyz", 0.46),
    **dict.fromkeys("0123456789#$*+<=>?EFLTZ^_~abdeghnopqu", 0.51),
    **dict.fromkeys("ABCKPSVXYß", 0.57),
    **dict.fromkeys("DGHNOQRU", 0.62),
    **dict.fromkeys("&w", 0.68),
    **dict.fromkeys("%-@MWmÆæŒœ", 0.84),
}
_WIDEST = 1.0
# Measured on one renderer; a printer's own font may round differently.
_SAFETY = 1.04


@lru_cache(maxsize=4096)
def _char_width(char: str) -> float:
    width = _WIDTHS.get(char)
    if width is None:
        base = unicodedata.normalize("NFD", char)[:1]
        width = _WIDTHS.get(base, _WIDEST)
    return width * _SAFETY


def text_width(text: str, size: int) -> float:
    """Return how wide `text` prints in font 0 at `size` dots, in dots."""
    return sum(_char_width(char) for char in text) * size


def _break_word(word: str, size: int, width: int) -> list[str]:
    pieces, piece = [], ""
    for char in word:
        if piece and text_width(piece + char, size) > width:
            pieces.append(piece)
            piece = ""
        piece += char
    return [*pieces, piece]


def wrap(text: str, size: int, width: int = TEXT_WIDE) -> list[str]:
    """Return `text` as lines that each print within `width` dots at `size`.

    Lines break at spaces; a word wider than a line on its own is broken
    where it must be, as the PDF label's `overflow-wrap: anywhere` does.
    """
    lines: list[str] = []
    line = ""
    for word in str(text).split():
        candidate = f"{line} {word}" if line else word
        if text_width(candidate, size) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        pieces = (
            _break_word(word, size, width) if text_width(word, size) > width else [word]
        )
        lines.extend(pieces[:-1])
        line = pieces[-1]
    if line:
        lines.append(line)
    return lines


def breaks_a_word(text: str, size: int, width: int = TEXT_WIDE) -> bool:
    """Say whether a word of `text` is wider than a line at `size` dots."""
    return any(text_width(word, size) > width for word in str(text).split())


def field_text(text: str, limit: int | None = None) -> str:
    """Return `text` as ZPL field data: hex-escaped (`_XX`) where not plain."""
    text = " ".join(str(text).split())[:limit]
    out = []
    for char in text:
        if char in _SAFE:
            out.append(char)
            continue
        escaped = _ESCAPED.get(char)
        if escaped is None:
            escaped = _ESCAPED[char] = "".join(
                f"_{byte:02X}" for byte in char.encode("utf-8")
            )
        out.append(escaped)
    return "".join(out)


def _text(x: int, y: int, size: int, text: str) -> str:
    return f"^FO{x},{y}^A0N,{size},{size}^FH^FD{field_text(text)}^FS"


def _step(size: int) -> int:
    """The distance from one line's top to the next's at `size` dots."""
    return size + max(4, size // 6)


class _Column:
    """Lines of text stacked top down from `y`, each wrapped to the label."""

    def __init__(self, y: int) -> None:
        self.y = y
        self.bottom = y
        self.parts: list[str] = []

    def add(self, text: str, size: int, *, gap: int = 0) -> None:
        for line in wrap(text, size):
            self.y += gap
            gap = 0
            self.parts.append(_text(MARGIN, self.y, size, line))
            self.bottom = self.y + size
            self.y += _step(size)

    def rule(self, *, gap: int) -> None:
        """Draw a full-width line `gap` dots under the last text."""
        self.y = self.bottom + gap
        self.parts.append(f"^FO20,{self.y}^GB772,4,4^FS")
        self.bottom = self.y + 4
        self.y = self.bottom + 16


def _details(label) -> str:
    weight = f"{label.weight_kg or '?'} kg"
    parcels = f"{label.packages} parcel{'s' if label.packages != 1 else ''}"
    return (
        f"{weight} - {parcels} - order {label.order_number} - {label.shipment_number}"
    )


def label_drawn(label, fit: int) -> str | None:
    """Return the label drawn in print size `fit`, or None if it does not fit."""
    sizes = SIZES[fit]
    smallest = fit == LABEL_FITS - 1
    # Bottom up: the QR code (left out in the smallest print, as on the PDF
    # label, for the tracking page's address as text), the barcode, then the
    # carrier's lines; the addresses must end above them.
    bottom: list[str] = []
    if label.tracking_url and not smallest:
        barcode_y = QR_TOP - BARCODE_BLOCK
        bottom.append(
            f"^FO560,{QR_TOP}^BQN,2,5^FH^FDMA,{field_text(label.tracking_url, 200)}^FS"
        )
    else:
        url_lines = wrap(label.tracking_url, sizes.details) if smallest else []
        url_y = DOTS_HIGH - MARGIN - len(url_lines) * _step(sizes.details)
        for number, line in enumerate(url_lines):
            bottom.append(
                _text(
                    MARGIN, url_y + number * _step(sizes.details), sizes.details, line
                )
            )
        barcode_y = url_y - BARCODE_BLOCK
    code = label.tracking_number or label.shipment_number
    # Code 128, 180 dots high, human-readable line below.
    bottom.insert(
        0, f"^FO40,{barcode_y}^BY3,3,180^BCN,180,Y,N,N^FH^FD{field_text(code, 48)}^FS"
    )
    carrier = f"{label.carrier or 'No carrier'} {label.service}".strip()
    carrier_lines = wrap(carrier, sizes.carrier)
    detail_lines = wrap(_details(label), sizes.details)
    carrier_y = barcode_y - 16
    carrier_y -= len(carrier_lines) * _step(sizes.carrier)
    carrier_y -= len(detail_lines) * _step(sizes.details)
    rule_y = carrier_y - 20

    ship_to = label.ship_to
    address = (ship_to.company, *ship_to.lines, ship_to.country, ship_to.phone)
    if not smallest and (
        breaks_a_word(ship_to.name, sizes.name)
        or any(breaks_a_word(text, sizes.line) for text in address)
    ):
        # A smaller print keeps a long word (a Welsh town, a German compound)
        # whole; only the smallest print breaks a word wider than the label
        # (the PDF label breaks it at any size, by `overflow-wrap: anywhere`).
        return None
    top = _Column(MARGIN)
    ship_from = label.ship_from
    top.add(f"From {ship_from.name}", sizes.sender)
    for line in (*ship_from.lines, ship_from.country):
        top.add(line, sizes.sender)
    top.rule(gap=22)
    top.add("SHIP TO", sizes.heading)
    top.add(ship_to.name, sizes.name, gap=sizes.heading // 3)
    top.add(ship_to.company, sizes.line)
    for line in ship_to.lines:
        top.add(line, sizes.line)
    country = f"{ship_to.country}  {ship_to.phone}".strip()
    if text_width(country, sizes.line) <= TEXT_WIDE:
        top.add(country, sizes.line)
    else:
        top.add(ship_to.country, sizes.line)
        top.add(ship_to.phone, sizes.line)
    if top.bottom + 16 > rule_y:
        return None

    carrier_column = _Column(carrier_y)
    carrier_column.add(carrier, sizes.carrier)
    carrier_column.add(_details(label), sizes.details)
    return "".join(
        [
            f"^XA^CI28^PW{DOTS_WIDE}^LL{DOTS_HIGH}^LH0,0",
            *top.parts,
            f"^FO20,{rule_y}^GB772,4,4^FS",
            *carrier_column.parts,
            *bottom,
            "^XZ",
        ]
    )


def label_blocks(labels: Sequence) -> list[str]:
    """Return each label (a `sheets.ShippingLabel`) as a ZPL block, in the
    largest print that holds every line whole.

    Raises LabelDoesNotFitError naming every label that fits at no size;
    then no label is returned.
    """
    drawn: dict[int, str] = {}

    def fits_at(index: int, fit: int) -> bool:
        block = label_drawn(labels[index], fit)
        if block is not None:
            drawn[index] = block
        return block is not None

    labels_fit(
        range(len(labels)),
        fits_at=fits_at,
        describe=lambda index: shipping_label_name(labels[index]),
    )
    return [drawn[index] for index in range(len(labels))]


def label_zpl(label) -> str:
    """Return one label (a `sheets.ShippingLabel`) as a ZPL block."""
    (block,) = label_blocks([label])
    return block


def labels_zpl(labels: Iterable) -> str:
    """Return every label, one `^XA … ^XZ` block each, one per line."""
    return "\n".join(label_blocks(list(labels))) + "\n"


def zpl_blocks(document: str) -> Sequence[str]:
    """Split a ZPL document into its label blocks (for checks and counts)."""
    return [
        "^XA" + block.split("^XZ")[0] + "^XZ" for block in document.split("^XA")[1:]
    ]
