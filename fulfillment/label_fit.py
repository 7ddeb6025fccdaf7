"""The one rule that sizes a shipping label's print, for PDF and ZPL alike.

A label prints in normal print (fit 0) when every line fits whole; otherwise
in the first smaller print (fit 1 to fit 5) at which it does; when even the
smallest print cannot hold it, nothing is printed and LabelDoesNotFitError
names every such label. What "fits" means is the renderer's own measure:
WeasyPrint's layout for the PDF (`fulfillment.documents`), the printer
font's widths for ZPL (`fulfillment.zpl`).
"""

from collections.abc import Callable, Sequence
from typing import TypeVar

from fulfillment.exceptions import LabelDoesNotFitError

# Print sizes a label may take, fit-0 (normal) to fit-5 (smallest); see the
# `.label.fit-N` rules in documents.css and `zpl.SIZES`.
LABEL_FITS = 6

Record = TypeVar("Record")


def label_fit(fits_at: Callable[[int], bool], *, first: int = 0) -> int | None:
    """Return the largest print (lowest fit from `first`) at which a label
    fits whole, or None when none does."""
    return next((fit for fit in range(first, LABEL_FITS) if fits_at(fit)), None)


def labels_fit(
    records: Sequence[Record],
    *,
    fits_at: Callable[[Record, int], bool],
    describe: Callable[[Record], str],
    first: int = 0,
) -> list[int]:
    """Return the print size of each label, or refuse them all.

    Raises LabelDoesNotFitError naming (`describe`) every label that fits
    at no size, so that no label of the batch is printed.
    """
    fits: list[int] = []
    refused: list[str] = []
    for record in records:
        fit = label_fit(lambda size, record=record: fits_at(record, size), first=first)
        if fit is None:
            refused.append(describe(record))
        fits.append(fit or 0)
    if refused:
        raise LabelDoesNotFitError(refused)
    return fits


def shipping_label_name(record) -> str:
    """Name a shipping label as the person at the screen knows it."""
    return f"shipment {record.shipment_number} (order {record.order_number})"
