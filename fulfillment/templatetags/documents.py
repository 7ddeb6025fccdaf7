"""Template filters for documents: barcodes and QR codes as inline SVG."""

from django import template

from fulfillment.documents import barcode_svg, qr_svg

register = template.Library()


@register.filter
def code128(value: str, height: float = 12.0):
    """{{ number|code128 }} or {{ number|code128:18 }} (bar height in mm)."""
    return barcode_svg(str(value), height=float(height)) if value else ""


@register.filter
def code128_narrow(value: str, height: float = 7.0):
    """A denser barcode for narrow table cells (SKUs on pick lists)."""
    return (
        barcode_svg(str(value), module_width=0.22, height=float(height))
        if value
        else ""
    )


@register.filter
def qrcode(value: str, scale: float = 1.0):
    """{{ url|qrcode }} or {{ url|qrcode:0.8 }} (module size in mm)."""
    return qr_svg(str(value), scale=float(scale)) if value else ""
