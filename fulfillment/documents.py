"""The one module that renders every PDF: pick lists, packing slips, labels.

A document is a Django template under `templates/documents/`, fed by
records from `fulfillment.sheets` (a fixed number of queries however
many pages), and turned into PDF by WeasyPrint with a URL fetcher that
serves only the project's own static files: customer text is escaped by the
template, and even markup that slipped through could not make the renderer
read a local file or call the network.

Large documents are rendered in chunks over all cores (forked processes
that never touch the database) and merged with pypdf.
"""

import io
import logging
import mimetypes
import multiprocessing
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import barcode
import segno
from barcode.writer import SVGWriter
from django.conf import settings
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from pypdf import PdfReader, PdfWriter
from weasyprint import HTML
from weasyprint.formatting_structure.boxes import TextBox
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from fulfillment import sheets
from fulfillment.exceptions import LabelDoesNotFitError
from fulfillment.label_fit import labels_fit, shipping_label_name
from fulfillment.models import DocumentKind
from fulfillment.postage import labels as postage_labels

logger = logging.getLogger(__name__)

TEMPLATES = {
    DocumentKind.PICK_LIST: "documents/pick_list.html",
    DocumentKind.PACKING_SLIP: "documents/packing_slip.html",
    DocumentKind.SHIPPING_LABEL: "documents/shipping_label.html",
}
# Below this many pages a document renders in this process: starting worker
# processes costs more than it saves.
PARALLEL_FROM_PAGES = 40


# ---- barcodes and QR codes, as inline SVG


class _PathSVGWriter(SVGWriter):
    """python-barcode's SVG writer, drawing the bars as a few stroked paths.

    The stock writer makes one <rect> per bar; as inline SVG every rect is
    an element the renderer styles and lays out, and its path parser works
    command by command. Here bars of the same width share one path and each
    bar is two commands (a move and a vertical line, stroked to its width).
    """

    def _init(self, code: list[str]) -> None:
        self._bars: dict[float, list[str]] = {}
        self._size = self.calculate_size(len(code[0]), 1)

    def _create_module(self, xpos, ypos, width, color) -> None:
        if color != self.background:
            self._top = ypos
            self._bars.setdefault(round(width, 4), []).append(
                f"M{xpos + width / 2:.3f} {ypos:.3f}"
            )

    def _create_text(self, xpos, ypos) -> None:
        """The number is printed as text by the template, where it can be found."""

    def _finish(self) -> str:
        width, height = self._size
        paths = "".join(
            f'<path stroke="{self.foreground}" stroke-width="{bar_width}" '
            f'd="{f"v{self.module_height:.3f}".join(moves)}v{self.module_height:.3f}"/>'
            for bar_width, moves in sorted(self._bars.items())
        )
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="barcode" '
            f'width="{width:.3f}mm" height="{height:.3f}mm" '
            f'viewBox="0 0 {width:.3f} {height:.3f}">{paths}</svg>'
        )


def barcode_svg(
    value: str, *, module_width: float = 0.33, height: float = 12.0
) -> SafeString:
    """Return a Code 128 barcode of `value` as inline SVG (sizes in mm)."""
    code = barcode.get("code128", value, writer=_PathSVGWriter())
    svg = code.render(
        {
            "module_width": module_width,
            "module_height": height,
            "quiet_zone": 2.5,
            "write_text": False,
            "margin_top": 0,
            "margin_bottom": 0,
        }
    )
    # The SVG holds only numbers and the path; `value` never appears in it.
    return mark_safe(svg)


def qr_svg(data: str, *, scale: float = 1.0) -> SafeString:
    """Return a QR code of `data` as inline SVG (one module = `scale` mm)."""
    svg = segno.make(data, error="m").svg_inline(scale=scale, unit="mm")
    return mark_safe(svg)


# ---- the URL fetcher


def static_roots() -> list[Path]:
    """The folders documents may read from: the project's static files."""
    roots = [Path(p) for p in getattr(settings, "STATICFILES_DIRS", [])]
    return [root.resolve() for root in roots]


def document_base_url() -> str:
    return static_roots()[0].as_uri() + "/"


class StaticFilesFetcher(URLFetcher):
    """Serve files under the project's static folders; refuse every other URL.

    Refused addresses are kept in `refused` (and logged), so tests can prove
    that nothing was fetched.
    """

    def __init__(self, roots: Sequence[Path] | None = None) -> None:
        super().__init__(timeout=1, allowed_protocols=("file",), allow_redirects=False)
        self.roots = list(roots) if roots is not None else static_roots()
        self.served: list[str] = []
        self.refused: list[str] = []

    def _local_path(self, url: str) -> Path | None:
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            return None
        path = Path(url2pathname(unquote(parts.path))).resolve()
        for root in self.roots:
            if path.is_relative_to(root) and path.is_file():
                return path
        return None

    def fetch(self, url: str, headers=None) -> URLFetcherResponse:
        path = self._local_path(url)
        if path is None:
            self.refused.append(url)
            logger.warning("Document renderer refused to fetch %s", url[:200])
            raise ValueError(
                f"Documents may only use the project's static files, not {url[:200]}"
            )
        self.served.append(url)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(
            url, body=path.read_bytes(), headers={"Content-Type": content_type}
        )


# ---- rendering


_font_config: FontConfiguration | None = None


def _fonts() -> FontConfiguration:
    global _font_config
    if _font_config is None:
        _font_config = FontConfiguration()
    return _font_config


def render_html(kind: str, pages: Sequence, *, fits: Sequence[int] = ()) -> str:
    """Render the document's template around a list of page records.

    Labels take a print size per page (`fits`, 0 the largest; see
    `labels_to_pdf`).
    """
    return render_to_string(
        TEMPLATES[DocumentKind(kind)],
        {
            "pages": pages,
            "labels": list(zip(pages, fits or [0] * len(pages), strict=True)),
            "paper": settings.OMS_DOCUMENT_PAPER,
            "kind": kind,
        },
    )


def html_to_pdf(html: str, *, fetcher: StaticFilesFetcher | None = None) -> bytes:
    """Turn document HTML into PDF; only static files can be fetched."""
    fetcher = fetcher or StaticFilesFetcher()
    document = HTML(string=html, base_url=document_base_url(), url_fetcher=fetcher)
    return document.write_pdf(font_config=_fonts())


def _documents_to_pdf(htmls: Sequence[str]) -> bytes:
    """Lay each HTML out as its own document, then write them as one PDF.

    Page counters (`counter(page)`, `counter(pages)`) count within each
    document, so every pick list of a batch says "Page 1 of n" of its own.
    """
    fetcher = StaticFilesFetcher()
    documents = [
        HTML(string=html, base_url=document_base_url(), url_fetcher=fetcher).render(
            font_config=_fonts()
        )
        for html in htmls
    ]
    pages = [page for document in documents for page in document.pages]
    return documents[0].copy(pages).write_pdf()


# ---- labels: every line printed whole, one page each (sizes: `label_fit`)


def _label_layout(render: Callable[[Sequence, Sequence[int]], str], records, fits):
    html = render(records, fits)
    return HTML(
        string=html, base_url=document_base_url(), url_fetcher=StaticFilesFetcher()
    ).render(font_config=_fonts())


def _boxes(box):
    yield box
    for child in getattr(box, "children", None) or ():
        yield from _boxes(child)


def labels_not_fitting(document, count: int) -> list[int]:
    """Return the indexes of labels that do not fit their page whole.

    A label (a `<section data-label="i">`) that runs onto a second page, or
    has a line of text reaching past the page's right edge, does not fit.
    """
    pages_of: dict[int, int] = {}
    wide: set[int] = set()
    for page in document.pages:
        page_box = page._page_box
        right = page_box.content_box_x() + page_box.width + 0.5
        on_page: set[int] = set()
        for box in _boxes(page_box):
            element = getattr(box, "element", None)
            if box.element_tag == "section" and element is not None:
                index = element.get("data-label")
                if index is not None:
                    on_page.add(int(index))
            elif isinstance(box, TextBox) and box.position_x + box.width > right:
                wide |= on_page
        for index in on_page:
            pages_of[index] = pages_of.get(index, 0) + 1
    return sorted(
        index for index in range(count) if pages_of.get(index) != 1 or index in wide
    )


def labels_to_pdf(
    records: Sequence,
    *,
    render: Callable[[Sequence, Sequence[int]], str],
    describe: Callable[[object], str],
) -> bytes:
    """Render 4 × 6 in labels, one page each, never clipping a line.

    Labels are laid out in normal print; any that would run onto a second
    page is tried alone in smaller and smaller print (`label_fit`'s rule),
    and the batch laid out again with the sizes found. When even the
    smallest print does not fit, nothing is printed: LabelDoesNotFitError
    names each label (`describe`).
    `render(records, fits)` returns the HTML of the labels.
    """
    fits = [0] * len(records)
    document = _label_layout(render, records, fits)
    crowded = labels_not_fitting(document, len(records))
    if not crowded:
        return document.write_pdf()
    smaller = labels_fit(
        [records[index] for index in crowded],
        fits_at=lambda record, fit: (
            not labels_not_fitting(_label_layout(render, [record], [fit]), 1)
        ),
        describe=describe,
        first=1,
    )
    for index, fit in zip(crowded, smaller, strict=True):
        fits[index] = fit
    document = _label_layout(render, records, fits)
    if crowded := labels_not_fitting(document, len(records)):
        raise LabelDoesNotFitError([describe(records[i]) for i in crowded])
    return document.write_pdf()


def _render_chunk(job: tuple[str, Sequence]) -> bytes:
    kind, pages = job
    if kind == DocumentKind.SHIPPING_LABEL:
        return labels_to_pdf(
            pages,
            render=lambda records, fits: render_html(kind, records, fits=fits),
            describe=shipping_label_name,
        )
    if kind == DocumentKind.PICK_LIST and len(pages) > 1:
        return _documents_to_pdf([render_html(kind, [sheet]) for sheet in pages])
    return html_to_pdf(render_html(kind, pages))


@dataclass(frozen=True)
class RenderedDocument:
    kind: str
    pdf: bytes
    pages: int
    references: list[str]

    @property
    def filename(self) -> str:
        first = self.references[0] if self.references else "empty"
        more = (
            f"-and-{len(self.references) - 1}-more" if len(self.references) > 1 else ""
        )
        return f"{self.kind.replace('_', '-')}-{first}{more}.pdf"


def page_records(kind: str, object_ids: Sequence[int]) -> list:
    """Read the page records of a document from the selectors."""
    if kind == DocumentKind.PICK_LIST:
        return sheets.pick_sheets(pick_list_ids=object_ids)
    if kind == DocumentKind.PACKING_SLIP:
        return sheets.packing_slips(shipment_ids=object_ids)
    if kind == DocumentKind.SHIPPING_LABEL:
        return sheets.shipping_labels(shipment_ids=object_ids)
    raise ValueError(f"Unknown document kind {kind!r}")


def _reference(record) -> str:
    return getattr(record, "shipment_number", None) or record.number


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, settings.OMS_DOCUMENT_WORKERS or 64))


def chunk_size_for(count: int, workers: int) -> int:
    """Big enough to spread fixed per-document costs, small enough to balance."""
    return max(20, min(250, -(-count // (workers * 2))))


def render_records(
    kind: str,
    records: Sequence,
    *,
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> bytes:
    """Render page records to one PDF, in parallel chunks when it pays off."""
    workers = workers or default_workers()
    total = len(records)
    if workers == 1 or total < PARALLEL_FROM_PAGES:
        pdf = _render_chunk((kind, records))
        if on_progress:
            on_progress(total, total)
        return pdf
    size = chunk_size_for(total, workers)
    chunks = [(kind, records[i : i + size]) for i in range(0, total, size)]
    writer = PdfWriter()
    done = 0
    # Forked workers inherit the loaded templates and fonts and never use the
    # database connection; each renders whole chunks and sends back bytes.
    context = multiprocessing.get_context("fork")
    with context.Pool(processes=min(workers, len(chunks))) as pool:
        for (_, chunk), pdf in zip(
            chunks, pool.imap(_render_chunk, chunks), strict=True
        ):
            writer.append(PdfReader(io.BytesIO(pdf)))
            done += len(chunk)
            if on_progress:
                on_progress(done, total)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def render(
    kind: str,
    object_ids: Sequence[int],
    *,
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> RenderedDocument:
    """Render the document `kind` for these shipments or pick lists."""
    if kind == DocumentKind.SHIPPING_LABEL:
        # Labels bought through EasyPost print as EasyPost made them.
        merged = postage_labels.pdf_with_bought_labels(
            object_ids,
            lambda own: (
                render(kind, own, workers=workers, on_progress=on_progress).pdf,
                [_reference(record) for record in page_records(kind, own)],
            ),
        )
        if merged is not None:
            pdf, numbers = merged
            pages = len(PdfReader(io.BytesIO(pdf)).pages)
            return RenderedDocument(kind=kind, pdf=pdf, pages=pages, references=numbers)
    records = page_records(kind, object_ids)
    pdf = render_records(kind, records, workers=workers, on_progress=on_progress)
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    return RenderedDocument(
        kind=kind,
        pdf=pdf,
        pages=pages,
        references=[_reference(record) for record in records],
    )
