"""Bar charts as inline SVG, drawn on the server: no script, no CDN, and
every bar carries its label and value as text, so colour is never needed."""

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


def horizontal_bars(
    rows: Sequence[tuple[str, float]], *, title: str, unit: str = "", width: int = 420
) -> SafeString:
    """One labelled bar per row, the value written at its end."""
    label_width, bar_height, gap = 150, 18, 6
    height = max(1, len(rows)) * (bar_height + gap) + 8
    top = max((value for _, value in rows), default=0) or 1
    room = width - label_width - 60
    parts = [
        f'<svg class="oms-chart" role="img" aria-label="{escape(title)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    if not rows:
        parts.append('<text x="0" y="14" font-size="12">No data yet.</text>')
    for index, (label, value) in enumerate(rows):
        y = 4 + index * (bar_height + gap)
        length = max(1.0, room * value / top)
        shown = f"{value:g}{unit}"
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 13}" font-size="12" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" '
            f'fill="#417690" stroke="#205067"><title>{escape(label)}: {shown}</title></rect>'
            f'<text x="{label_width + length + 4:.1f}" y="{y + 13}" font-size="12">{shown}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped


def column_series(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 640,
    height: int = 160,
) -> SafeString:
    """Columns over time (e.g. orders per day); first and last dates on the axis."""
    count = max(1, len(points))
    top = max((value for _, value in points), default=0) or 1
    slot = (width - 40) / count
    parts = [
        f'<svg class="oms-chart" role="img" aria-label="{escape(title)}" width="{width}" '
        f'height="{height + 30}" viewBox="0 0 {width} {height + 30}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="12" font-size="11">max {top:g}</text>',
        f'<line x1="36" y1="{height}" x2="{width}" y2="{height}" stroke="#333"/>',
    ]
    for index, (label, value) in enumerate(points):
        bar = (height - 20) * value / top
        x = 38 + index * slot
        parts.append(
            f'<rect x="{x:.1f}" y="{height - bar:.1f}" width="{max(1.0, slot - 2):.1f}" '
            f'height="{bar:.1f}" fill="#79aec8" stroke="#417690">'
            f"<title>{escape(label)}: {value:g}</title></rect>"
        )
    if points:
        parts.append(
            f'<text x="38" y="{height + 16}" font-size="11">{escape(points[0][0])}</text>'
            f'<text x="{width}" y="{height + 16}" font-size="11" text-anchor="end">'
            f"{escape(points[-1][0])}</text>"
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped
