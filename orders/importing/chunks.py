"""What lets an import of any size run in bounded memory: the index of a
file's orders (`rows_index`) and its checked orders kept chunk by chunk
(`CheckedChunks`) between the check and the write.

A file of up to `keep_lines` rows is held as today: all its orders are read
and checked, then written chunk by chunk from memory. A bigger file is read
once more first (`rows_index`: the last row of every order reference), so
that each order is checked as soon as its last row is read (its rows need
not be next to each other). A file with no quote at all (every line one
row, cells split at the delimiter) is indexed from its text, line by line,
without the CSV reader: a fifth of the time. The checked orders are written,
chunk by chunk, to a temporary file (the spool) and read back one chunk at a
time to be written, as the write needs them (`_spooled`): field by field,
Decimals as their exact text, of an order's cells only `SPOOLED_VALUES`,
marshalled (only the dates are pickled). Written and read back in about half
the CPU time of the pickled orders it replaced (5,000-order chunks of the
benchmark's file: 0.13 s against 0.19-0.39 s).
"""

import itertools
import marshal
import operator
import pickle
import tempfile
from collections.abc import Iterator
from dataclasses import fields
from decimal import Decimal

from orders.addresses import SHIP_TO_FIELDS
from orders.importing.formats import SHOPIFY, Format, column_indexes
from orders.importing.parsed import ParsedLine, ParsedOrder
from orders.importing.reader import Table
from orders.importing.shopify import shopify_file_tax_included, tax_included_of

# A file of up to this many chunks' worth of rows (4 lines an order, as
# files run) is held whole; above, it is streamed (module docstring).
KEPT_CHUNKS = 24
# The figures a Shopify export's rows vote with on tax-inclusive prices.
SHOPIFY_FIGURES = ("subtotal", "shipping_amount", "tax_amount", "total")
# The cells of an order (`ParsedOrder.values`) its write reads
# (`orders.importing.write`, `orders.importing.resolve.parsed_customer_key`):
# the only ones spooled. The others were read into the order's fields by
# the check.
SPOOLED_VALUES = tuple(
    dict.fromkeys(
        (
            "email",
            "customer_name",
            "phone",
            "platform_id",
            "shipping_method",
            *SHIP_TO_FIELDS,
        )
    )
)


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
    vote = _Vote(figures, table.delimiter == ";") if fmt is SHOPIFY else None
    last_rows = _unquoted_rows_index(table, ext_at, vote)
    if last_rows is None:
        vote = _Vote(figures, table.delimiter == ";") if fmt is SHOPIFY else None
        last_rows = {}
        for number, row in table.rows:
            if ext_at < len(row) and (external_id := row[ext_at].strip()):
                last_rows[external_id] = number
            if vote and vote.open:
                vote.add(row)
    return last_rows, shopify_file_tax_included(vote.answers if vote else ())


class _Vote:
    """A Shopify export's rows' answers on tax-inclusive prices, until two
    differ (the file's answer is then False)."""

    def __init__(self, figures: list[tuple[str, int]], decimal_comma: bool) -> None:
        self.figures = figures
        self.decimal_comma = decimal_comma
        self.answers: set[bool] = set()
        self.open = True

    def add(self, row: list[str]) -> None:
        values = {name: row[at].strip() for name, at in self.figures if at < len(row)}
        answer = tax_included_of(values, self.decimal_comma)
        if answer is not None:
            self.answers.add(answer)
            self.open = len(self.answers) < 2


def _plain(text: str) -> bool:
    """Whether the CSV reader would read this text as one row a line, each
    cell what lies between two delimiters: no quote, no NUL and no carriage
    return but before a line's end."""
    return (
        '"' not in text
        and "\x00" not in text
        and text.count("\r") == text.count("\r\n")
    )


def _unquoted_rows_index(
    table: Table, ext_at: int, vote: _Vote | None
) -> dict[str, int] | None:
    """`rows_index`'s last rows read from the text, line by line, when the
    file holds no quote (every line a row, numbered as `Table.rows` numbers
    them); None as soon as the text shows it is not so plain (the CSV
    reader then reads it)."""
    delimiter = table.delimiter
    last_rows: dict[str, int] = {}
    number = 0  # of the last line read; the header is line 1
    rest = ""
    for text in table.text_blocks():
        text = rest + text
        end = text.rfind("\n") + 1
        rest = text[end:]
        if not end:
            continue
        complete = text[:end]
        if not _plain(complete):
            return None
        lines = complete.split("\n")
        lines.pop()  # the empty text after the last line end
        _index_lines(lines, number + 1, ext_at, delimiter, last_rows, vote)
        number += len(lines)
    if rest:
        if not _plain(rest) or "\r" in rest:
            return None
        _index_lines([rest], number + 1, ext_at, delimiter, last_rows, vote)
    return last_rows


def _index_lines(
    lines: list[str],
    first: int,
    ext_at: int,
    delimiter: str,
    last_rows: dict[str, int],
    vote: _Vote | None,
) -> None:
    split_at = ext_at + 1
    for number, line in enumerate(lines, start=first):
        if number == 1:
            continue  # the header
        cells = line.split(delimiter, split_at)
        if len(cells) > ext_at and (external_id := cells[ext_at].strip()):
            last_rows[external_id] = number
        if vote and vote.open:
            vote.add(line.split(delimiter))


# What is spooled of a line (all its fields) and of an order (its fields
# but its lines, and its values but `SPOOLED_VALUES`; an importable order
# has no problems, no skip reason, and no raw row any more): a chunk's
# values field by field (`_spooled`), its Decimals as text.
_LINE_NAMES = tuple(f.name for f in fields(ParsedLine))
_ORDER_ALL = tuple(f.name for f in fields(ParsedOrder))
_ORDER_NAMES = tuple(
    name
    for name in _ORDER_ALL
    if name not in ("values", "lines", "problems", "skip_reason", "raw")
)
_LINE_DECIMALS = ("unit_price", "discount_amount", "total")
_ORDER_DECIMALS = (
    "shipping_amount",
    "tax_amount",
    "discount_amount",
    "shipping_discount",
    "stated_total",
)


def _texts(amounts: list[Decimal | None]) -> list[str | None]:
    """Decimals as their exact text (`Decimal(str(amount)) == amount`, with
    the same exponent): pickled without a Python call per amount."""
    return [None if amount is None else str(amount) for amount in amounts]


def _decimals(texts: list[str | None]) -> list[Decimal | None]:
    """`_texts` read back, one Decimal per distinct text (they are
    immutable: a chunk's lines share their prices)."""
    read = {text: Decimal(text) for text in set(texts) if text is not None}
    read[None] = None
    return list(map(read.__getitem__, texts))


def _columns(rows: list[tuple], names: tuple[str, ...]) -> dict[str, list]:
    """The rows' values field by field (the rows hold `names`' in order)."""
    if not rows:
        return {name: [] for name in names}
    return dict(zip(names, map(list, zip(*rows, strict=True)), strict=True))


def _spooled(orders: list[ParsedOrder]) -> tuple:
    """A chunk of importable orders as the spool keeps it (module docstring)."""
    order_fields = _columns(
        list(map(operator.attrgetter(*_ORDER_NAMES), orders)), _ORDER_NAMES
    )
    for name in _ORDER_DECIMALS:
        order_fields[name] = _texts(order_fields[name])
    # The one field marshal cannot write (aware datetimes).
    order_fields["placed_at"] = pickle.dumps(
        order_fields["placed_at"], protocol=pickle.HIGHEST_PROTOCOL
    )
    lines = [line for order in orders for line in order.lines]
    line_fields = _columns(
        list(map(operator.attrgetter(*_LINE_NAMES), lines)), _LINE_NAMES
    )
    for name in _LINE_DECIMALS:
        line_fields[name] = _texts(line_fields[name])
    return (
        order_fields,
        [
            {name: values[name] for name in SPOOLED_VALUES if name in values}
            for values in (order.values for order in orders)
        ],
        [len(order.lines) for order in orders],
        line_fields,
    )


def _unspooled(chunk: tuple) -> list[ParsedOrder]:
    """The orders `_spooled` kept, as the write reads them."""
    order_fields, values, line_counts, line_fields = chunk
    for name in _ORDER_DECIMALS:
        order_fields[name] = _decimals(order_fields[name])
    order_fields["placed_at"] = pickle.loads(order_fields["placed_at"])
    for name in _LINE_DECIMALS:
        line_fields[name] = _decimals(line_fields[name])
    lines = list(map(ParsedLine, *(line_fields[name] for name in _LINE_NAMES)))
    ends = list(itertools.accumulate(line_counts))
    count = len(line_counts)
    order_fields.update(
        values=values,
        lines=list(map(lines.__getitem__, map(slice, [0, *ends[:-1]], ends))),
        problems=[[] for _ in range(count)],
        skip_reason=[""] * count,
        raw=[()] * count,
    )
    return list(map(ParsedOrder, *(order_fields[name] for name in _ORDER_ALL)))


class CheckedChunks:
    """The importable orders of a checked file, chunk by chunk, in memory
    or (`on_disk`) spooled into a temporary file; each chunk is given back
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
        """Keep a chunk of importable orders (no problems, not skipped)."""
        if not orders:
            return
        self.count += 1
        if self._file is None:
            self._held.append(orders)
        else:
            # Read back whole: `marshal.load` reads a file a value at a time.
            spooled = marshal.dumps(_spooled(orders))
            self._file.write(len(spooled).to_bytes(8, "little"))
            self._file.write(spooled)

    def __iter__(self) -> Iterator[list[ParsedOrder]]:
        if self._file is None:
            while self._held:
                yield self._held.pop(0)
            return
        self._file.seek(0)
        for _ in range(self.count):
            size = int.from_bytes(self._file.read(8), "little")
            yield _unspooled(marshal.loads(self._file.read(size)))

    def close(self) -> None:
        self._held = []
        if self._file is not None:
            self._file.close()
