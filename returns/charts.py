"""Bar charts drawn on the server as inline SVG: no script, no CDN.

Every bar carries its label and its value as text, so the chart reads the
same in black and white, to a screen reader (role="img" with a title and a
description) and when colours cannot be told apart.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str


WIDTH = 640
LABEL_WIDTH = 220
BAR_HEIGHT = 18
GAP = 6
TOP = 28


def bar_chart_svg(*, title: str, bars: Sequence[Bar], chart_id: str) -> SafeString:
    """Return a horizontal bar chart; bar lengths scale to the largest value."""
    largest = max((bar.value for bar in bars), default=0) or 1
    room = WIDTH - LABEL_WIDTH - 70
    height = TOP + len(bars) * (BAR_HEIGHT + GAP) + 4
    description = "; ".join(f"{bar.label}: {bar.text}" for bar in bars) or "No data."
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="oms-chart" id="{escape(chart_id)}" '
        f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>',
        f'<text x="0" y="16" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    for index, bar in enumerate(bars):
        y = TOP + index * (BAR_HEIGHT + GAP)
        length = round(room * bar.value / largest, 1) if bar.value > 0 else 0
        label = bar.label if len(bar.label) <= 34 else bar.label[:33] + "…"
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 13}" font-size="12" '
            f'text-anchor="end">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR_HEIGHT}" '
            'fill="#417690" stroke="#000" stroke-width="0.5"/>'
            f'<text x="{LABEL_WIDTH + length + 6}" y="{y + 13}" '
            f'font-size="12">{escape(bar.text)}</text>'
        )
    if not bars:
        parts.append(f'<text x="0" y="{TOP + 12}" font-size="12">No returns.</text>')
    parts.append("</svg>")
    # Every piece of text above went through escape().
    return mark_safe("".join(parts))
