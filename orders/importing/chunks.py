"""What lets an import of any size run in bounded memory: the index of a
file's orders (`rows_index`) and its checked orders kept chunk by chunk
(`CheckedChunks`) between the check and the write.

A file of up to `keep_lines` rows is held as today: all its orders are read
and checked, then written chunk by chunk from memory. A bigger file is read
once more first (`rows_index`: the last row of every order reference), so
that each order is checked as soon as its last row is read (its rows need
not be next to each other); the checked orders are pickled, chunk by chunk,
into a temporary file and read back one chunk at a time to be written.
"""

import pickle
import tempfile
from collections.abc import Iterator

from orders.importing.formats import SHOPIFY, Format, column_indexes
from orders.importing.parsed import ParsedOrder
from orders.importing.reader import Table
from orders.importing.shopify import shopify_file_tax_included, tax_included_of

# A file of up to this many chunks' worth of rows (4 lines an order, as
# files run) is held whole; above, it is streamed (module docstring).
KEPT_CHUNKS = 24
# The figures a Shopify export's rows vote with on tax-inclusive prices.
SHOPIFY_FIGURES = ("subtotal", "shipping_amount", "tax_amount", "total")


def keep_lines(chunk_orders: int) -> int:
    """How many rows a file may have for all its orders to be held."""
    return chunk_orders * KEPT_CHUNKS


def rows_index(table: Table, fmt: Format) -> tuple[dict[str, int], bool]:
    """Read the file's rows once: the last row of each order reference and,
    for a Shopify export, whether its figures show tax-inclusive prices
    (`shopify_file_tax_included`, from each row that has the figures: the
    order's first, in Shopify's exports)."""
    index = column_indexes(fmt, table.header)
    ext_at = index["external_id"]
    figures = [(name, index[name]) for name in SHOPIFY_FIGURES if name in index]
    last_rows: dict[str, int] = {}
    answers: set[bool] = set()
    vote = fmt is SHOPIFY
    for number, row in table.rows:
        if ext_at < len(row) and (external_id := row[ext_at].strip()):
            last_rows[external_id] = number
        if vote:
            values = {name: row[at].strip() for name, at in figures if at < len(row)}
            answer = tax_included_of(values, table.delimiter == ";")
            if answer is not None:
                answers.add(answer)
                vote = len(answers) < 2  # two answers: the file's is False
    return last_rows, shopify_file_tax_included(answers)


class CheckedChunks:
    """The importable orders of a checked file, chunk by chunk, in memory
    or (`on_disk`) pickled into a temporary file; each chunk is given back
    once, in the order added, and let go of."""

    def __init__(self, *, on_disk: bool) -> None:
        self._held: list[list[ParsedOrder]] = []
        # Closed by `close` (the import closes it in a finally).
        self._file = (
            tempfile.TemporaryFile(prefix="oms-import-")  # noqa: SIM115
            if on_disk
            else None
        )
        self.count = 0

    def add(self, orders: list[ParsedOrder]) -> None:
        if not orders:
            return
        self.count += 1
        if self._file is None:
            self._held.append(orders)
        else:
            pickle.dump(orders, self._file, protocol=pickle.HIGHEST_PROTOCOL)

    def __iter__(self) -> Iterator[list[ParsedOrder]]:
        if self._file is None:
            while self._held:
                yield self._held.pop(0)
            return
        self._file.seek(0)
        for _ in range(self.count):
            yield pickle.load(self._file)

    def close(self) -> None:
        self._held = []
        if self._file is not None:
            self._file.close()
