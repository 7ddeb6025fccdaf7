"""Bar charts as inline SVG, drawn on the server: no script, no CDN, and
every bar carries its label and value as text, so colour is never needed.

Each chart is a `<figure>` with its title as the caption and axes with ticks
and labels. The SVG scales to the width of its box (`viewBox`, width 100%),
so nothing is clipped on a narrow screen; labels too long for their room are
shortened with an ellipsis and kept whole in the bar's tooltip.
"""

import math
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

FONT = 12
LABEL_CHARS = 26
AXIS = "#666"
GRID = "#ddd"
BAR_FILL, BAR_STROKE = "#417690", "#205067"
COLUMN_FILL, COLUMN_STROKE = "#79aec8", "#417690"

Unit = str | tuple[str, str]


# Widths of glyphs of the admin's sans-serif, in ems, to reserve room for a
# label without measuring it: narrow, wide and capital letters differ enough
# that one average clips a label of capitals (a channel called "WHOLESALE").
NARROW = set("iljtfrI.,:;|!'() ")
WIDE = set("mwMW@%")


def text_width(text: str, size: float = FONT) -> float:
    """Estimate how wide `text` is drawn at `size` px (generously)."""
    ems = 0.0
    for char in text:
        if char in NARROW:
            ems += 0.32
        elif char in WIDE:
            ems += 0.9
        elif char.isupper() or char == "…":
            ems += 0.7
        else:
            ems += 0.58
    return ems * size


def nice_ticks(top: float, count: int = 4, *, whole: bool = False) -> list[float]:
    """Return round axis ticks from 0 to at least `top` (0, 5, 10, 15 …);
    `whole` for counts: no tick between two whole numbers (0, 1, 2, not 0.5)."""
    if top <= 0:
        return [0, 1]
    rough = top / count
    if whole:
        rough = max(rough, 1)
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(
        m * magnitude
        for m in (1, 2, 2.5, 5, 10)
        if m * magnitude >= rough and not (whole and m * magnitude % 1)
    )
    steps = math.ceil(top / step - 1e-9)
    return [round(step * index, 10) for index in range(steps + 1)]


def format_value(value: float, unit: Unit = "") -> str:
    """Write a value with its unit: "1 unit", "2 units", "3.5 h", "12 %"."""
    if isinstance(unit, tuple):
        singular, plural = unit
        return f"{value:g} {singular if value == 1 else plural}"
    return f"{value:g}{unit}"


def _short(label: str, limit: int = LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def _figure(title: str, svg: list[str], heading: str | None) -> SafeString:
    caption = escape(title)
    if heading:
        caption = f"<{heading}>{caption}</{heading}>"
    return mark_safe(  # noqa: S308 - every value is escaped by the callers
        f'<figure class="oms-chart-figure"><figcaption class="oms-chart-title">'
        f"{caption}</figcaption>{''.join(svg)}</figure>"
    )


def _svg_open(title: str, width: float, height: float) -> str:
    # The width is the widest it is drawn; the stylesheet scales it down to
    # its box (no style attribute: the Content Security Policy allows none).
    return (
        f'<svg class="oms-chart" role="img" aria-label="{escape(title)}" '
        f'width="{width * 1.4:g}" viewBox="0 0 {width:g} {height:g}" '
        f'preserveAspectRatio="xMinYMin meet" '
        f'font-size="{FONT}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
    )


def horizontal_bars(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    unit: Unit = "",
    width: int = 400,
    value_label: str = "",
    heading: str | None = None,
    counts: bool = False,
) -> SafeString:
    """One labelled bar per row, the value written at its end, a value axis
    with ticks below; `value_label` names that axis ("orders", "hours");
    `counts` keeps its ticks whole numbers."""
    bar_height, gap, top_pad = 18, 6, 6
    widest = max((text_width(_short(label)) for label, _ in rows), default=54)
    label_width = max(60, math.ceil(widest) + 12)
    top_value = max((value for _, value in rows), default=0)
    ticks = nice_ticks(top_value, whole=counts)
    axis_max = ticks[-1]
    value_room = (
        max((text_width(format_value(value, unit)) for _, value in rows), default=28)
        + 8
    )
    room = max(60.0, width - label_width - value_room)
    plot_bottom = top_pad + max(1, len(rows)) * (bar_height + gap)
    height = plot_bottom + (38 if value_label else 24)
    svg = [_svg_open(title, width, height)]
    if not rows:
        svg.append(f'<text x="{label_width}" y="{top_pad + 13}">No data yet.</text>')
    for tick in ticks:
        x = label_width + room * tick / axis_max
        svg.append(
            f'<line x1="{x:.1f}" y1="{top_pad}" x2="{x:.1f}" y2="{plot_bottom}" '
            f'stroke="{GRID}"/>'
            f'<text x="{x:.1f}" y="{plot_bottom + 14}" text-anchor="middle" '
            f'font-size="11" fill="{AXIS}">{tick:g}</text>'
        )
    svg.append(
        f'<line x1="{label_width}" y1="{top_pad}" x2="{label_width}" '
        f'y2="{plot_bottom}" stroke="{AXIS}"/>'
        f'<line x1="{label_width}" y1="{plot_bottom}" x2="{label_width + room:.1f}" '
        f'y2="{plot_bottom}" stroke="{AXIS}"/>'
    )
    if value_label:
        svg.append(
            f'<text x="{label_width + room / 2:.1f}" y="{plot_bottom + 30}" '
            f'text-anchor="middle" font-size="11" fill="{AXIS}">'
            f"{escape(value_label)}</text>"
        )
    for index, (label, value) in enumerate(rows):
        y = top_pad + gap / 2 + index * (bar_height + gap)
        length = max(1.0, room * value / axis_max)
        shown = format_value(value, unit)
        svg.append(
            f'<text x="{label_width - 6}" y="{y + 13}" text-anchor="end">'
            f"{escape(_short(label))}</text>"
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" '
            f'height="{bar_height}" fill="{BAR_FILL}" stroke="{BAR_STROKE}">'
            f"<title>{escape(label)}: {escape(shown)}</title></rect>"
            f'<text x="{label_width + length + 4:.1f}" y="{y + 13}">'
            f"{escape(shown)}</text>"
        )
    svg.append("</svg>")
    return _figure(title, svg, heading)


def column_series(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 960,
    height: int = 200,
    value_label: str = "",
    category_label: str = "",
    heading: str | None = None,
    counts: bool = False,
) -> SafeString:
    """Columns over time (e.g. orders per day): a value axis with round
    ticks on the left, about six dates along the bottom, both axes named;
    `counts` keeps the ticks whole numbers. The left margin is as wide as the
    widest tick label, plus the axis name's room."""
    top_pad = 8
    plot_bottom = height - (36 if category_label else 22)
    plot_height = plot_bottom - top_pad
    count = max(1, len(points))
    ticks = nice_ticks(max((value for _, value in points), default=0), whole=counts)
    axis_max = ticks[-1]
    tick_room = max(text_width(f"{tick:g}", 11) for tick in ticks) + 8
    left = math.ceil(tick_room + (20 if value_label else 4))
    slot = (width - left - 8) / count
    svg = [_svg_open(title, width, height)]
    for tick in ticks:
        y = plot_bottom - plot_height * tick / axis_max
        svg.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 8}" y2="{y:.1f}" '
            f'stroke="{GRID}"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{AXIS}">{tick:g}</text>'
        )
    if value_label:
        middle = top_pad + plot_height / 2
        svg.append(
            f'<text x="11" y="{middle:.1f}" text-anchor="middle" font-size="11" '
            f'fill="{AXIS}" transform="rotate(-90 11 {middle:.1f})">'
            f"{escape(value_label)}</text>"
        )
    every = max(1, math.ceil(count / 6))
    for index, (label, value) in enumerate(points):
        bar = plot_height * value / axis_max
        x = left + 1 + index * slot
        svg.append(
            f'<rect x="{x:.1f}" y="{plot_bottom - bar:.1f}" '
            f'width="{max(1.0, slot - 2):.1f}" height="{bar:.1f}" '
            f'fill="{COLUMN_FILL}" stroke="{COLUMN_STROKE}">'
            f"<title>{escape(label)}: {value:g}</title></rect>"
        )
        if index % every == 0 or index == count - 1:
            centre = x + slot / 2
            anchor = "end" if index == count - 1 else "middle"
            if index == count - 1:
                centre = min(centre + slot / 2, width - 2)
            elif index % every == 0 and count - 1 - index < every / 2:
                continue  # too close to the last label
            svg.append(
                f'<line x1="{x + slot / 2:.1f}" y1="{plot_bottom}" '
                f'x2="{x + slot / 2:.1f}" y2="{plot_bottom + 4}" stroke="{AXIS}"/>'
                f'<text x="{centre:.1f}" y="{plot_bottom + 16}" text-anchor="{anchor}" '
                f'font-size="11" fill="{AXIS}">{escape(label)}</text>'
            )
    svg.append(
        f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{plot_bottom}" '
        f'stroke="{AXIS}"/>'
        f'<line x1="{left}" y1="{plot_bottom}" x2="{width - 8}" y2="{plot_bottom}" '
        f'stroke="{AXIS}"/>'
    )
    if category_label:
        svg.append(
            f'<text x="{left + (width - left) / 2:.1f}" y="{height - 4}" '
            f'text-anchor="middle" font-size="11" fill="{AXIS}">'
            f"{escape(category_label)}</text>"
        )
    if not points:
        svg.append(f'<text x="{left + 8}" y="{top_pad + 16}">No data yet.</text>')
    svg.append("</svg>")
    return _figure(title, svg, heading)
