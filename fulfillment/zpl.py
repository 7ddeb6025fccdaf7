"""Shipping labels in ZPL II for thermal printers: today's 4 × 6 in layout
(ship-from, ship-to, carrier and service, Code 128 of the tracking number,
QR of the tracking page) at 203 dpi, one `^XA … ^XZ` block per label.

Text goes through `^FH` hex escapes, so a customer's `^` or `~` can never
become a printer command; `^CI28` makes the printer read UTF-8.
"""

from collections.abc import Iterable, Sequence

DOTS_WIDE = 812  # 4 in at 203 dpi
DOTS_HIGH = 1218  # 6 in
_SAFE = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,-/:#()&'+@*!?=%"
)
_ESCAPED: dict[str, str] = {}


def field_text(text: str, limit: int = 60) -> str:
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


def _text(x: int, y: int, size: int, text: str, limit: int = 60) -> str:
    return f"^FO{x},{y}^A0N,{size},{size}^FH^FD{field_text(text, limit)}^FS"


def label_zpl(label) -> str:
    """Return one label (a `sheets.ShippingLabel`) as a ZPL block."""
    parts = [f"^XA^CI28^PW{DOTS_WIDE}^LL{DOTS_HIGH}^LH0,0"]
    y = 30
    ship_from = label.ship_from
    parts.append(_text(30, y, 24, f"From {ship_from.name}"))
    for line in (*ship_from.lines, ship_from.country)[:4]:
        if line:
            y += 28
            parts.append(_text(30, y, 24, line))
    y += 50
    parts.append(f"^FO20,{y}^GB772,4,4^FS")
    y += 20
    parts.append(_text(30, y, 30, "SHIP TO"))
    ship_to = label.ship_to
    y += 44
    parts.append(_text(30, y, 44, ship_to.name, 34))
    if ship_to.company:
        y += 50
        parts.append(_text(30, y, 36, ship_to.company, 40))
    for line in ship_to.lines[:5]:
        y += 46
        parts.append(_text(30, y, 40, line, 36))
    y += 46
    country = ship_to.country + (f"  {ship_to.phone}" if ship_to.phone else "")
    parts.append(_text(30, y, 40, country, 36))
    y += 60
    parts.append(f"^FO20,{y}^GB772,4,4^FS")
    y += 20
    parts.append(
        _text(30, y, 34, f"{label.carrier or 'No carrier'} {label.service}".strip())
    )
    y += 42
    weight = f"{label.weight_kg or '?'} kg"
    parcels = f"{label.packages} parcel{'s' if label.packages != 1 else ''}"
    parts.append(
        _text(
            30,
            y,
            24,
            f"{weight} - {parcels} - order {label.order_number} - "
            f"{label.shipment_number}",
            70,
        )
    )
    y += 50
    code = label.tracking_number or label.shipment_number
    # Code 128, 180 dots high, human-readable line below.
    parts.append(f"^FO40,{y}^BY3,3,180^BCN,180,Y,N,N^FH^FD{field_text(code, 48)}^FS")
    if label.tracking_url:
        parts.append(
            f"^FO560,{DOTS_HIGH - 260}^BQN,2,5^FH^FDMA,{field_text(label.tracking_url, 200)}^FS"
        )
    parts.append("^XZ")
    return "".join(parts)


def labels_zpl(labels: Iterable) -> str:
    """Return every label, one `^XA … ^XZ` block each, one per line."""
    return "\n".join(label_zpl(label) for label in labels) + "\n"


def zpl_blocks(document: str) -> Sequence[str]:
    """Split a ZPL document into its label blocks (for checks and counts)."""
    return [
        "^XA" + block.split("^XZ")[0] + "^XZ" for block in document.split("^XA")[1:]
    ]
