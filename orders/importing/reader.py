"""Turn an uploaded file into a header and rows, or say why it cannot be read.

The file is never held whole, as bytes or as text: `read_table` scans it
once in blocks (its size, whether it is text, its encoding and its rows'
count) and every pass over its rows (`Table.rows`) reads it again from the
start, decoding block by block. A file is bytes (held by the caller) or a
seekable binary file object (a stored file opened for reading).
"""

import codecs
import csv
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from core.exceptions import DomainError

# How much of the file is read at a time.
BLOCK_BYTES = 1 << 20

ImportData = bytes | BinaryIO


class ImportFileError(DomainError):
    """The file as a whole cannot be imported (not CSV, empty, too big...)."""


@dataclass
class Table:
    """The header, and the data rows as a one-pass iterator, new for every
    pass (big files are never held as a list of rows, nor as text)."""

    header: list[str]
    source: BinaryIO
    encoding: str
    delimiter: str
    row_count: int
    name: str = ""

    @property
    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(row, cells), rows numbered as a spreadsheet shows them: the
        header is row 1, and a row is one row however many lines its quoted
        cells span (a Shopify export's notes often do). Each call reads the
        file again from its start."""
        reader = csv.reader(
            _lines(self.source, self.encoding), delimiter=self.delimiter
        )
        try:
            next(reader)  # the header
        except csv.Error as error:
            raise _csv_error(error, reader, self.name) from error
        return _data_rows(reader, self.name)

    def text_blocks(self) -> Iterator[str]:
        """The file's text, decoded block by block from its start (a
        character split between two blocks is in the second)."""
        decoder = codecs.getincrementaldecoder(self.encoding)()
        for block in itertools.chain(_blocks(self.source), [None]):
            yield decoder.decode(block or b"", final=block is None)

    @property
    def notices(self) -> list[str]:
        notes = []
        if self.delimiter == ";":
            notes.append(
                "Read as a semicolon-separated file (decimal commas accepted)."
            )
        if self.encoding == "cp1252":
            notes.append("Read as Windows-1252 text (the file is not UTF-8).")
        return notes


# A well-formed multi-byte UTF-8 sequence (RFC 3629): Windows-1252 text
# almost never contains one, so finding one means the file holds UTF-8.
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]"
    rb"|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
# The five bytes Windows-1252 leaves undefined.
_NOT_CP1252 = re.compile(rb"[\x81\x8d\x8f\x90\x9d]")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _bad_bytes(error: UnicodeDecodeError) -> str:
    return " ".join(f"0x{byte:02X}" for byte in error.object[error.start : error.end])


def _blocks(source: BinaryIO) -> Iterator[bytes]:
    source.seek(0)
    while block := source.read(BLOCK_BYTES):
        yield block


@dataclass
class _Scan:
    """What one pass over a file's bytes tells."""

    encoding: str
    newlines: int
    has_text: bool


def _scan_utf16(source: BinaryIO, name: str) -> _Scan:
    source.seek(0)
    codec = "utf-16-le" if source.read(2) == b"\xff\xfe" else "utf-16-be"
    decoder = codecs.getincrementaldecoder("utf-16")()
    newlines = 0
    for block in itertools.chain(_blocks(source), [None]):
        try:
            text = decoder.decode(block or b"", final=block is None)
        except UnicodeDecodeError as error:
            before = error.object[: error.start].decode(codec, errors="replace")
            row = newlines + before.count("\n")
            raise ImportFileError(
                f"The file {name}starts as UTF-16 but row {row + 1} is not UTF-16 "
                f"({_bad_bytes(error)}); save the file as UTF-8 and import it again."
            ) from error
        newlines += text.count("\n")
    return _Scan("utf-16", newlines, True)


def _scan(source: BinaryIO, name: str) -> _Scan:
    """Read the file's bytes once: decide its encoding, or refuse it naming
    the first bad row; count its lines; see whether it holds anything.

    UTF-8 (with or without a byte-order mark) when it is valid; a file with
    valid UTF-8 in some rows and not in others is a mix (rows pasted from
    different programs) and is refused; otherwise Windows-1252, which Excel
    on Windows writes for "CSV".
    """
    source.seek(0)
    start = source.read(3)
    if start.startswith(_UTF16_BOMS):
        return _scan_utf16(source, name)
    encoding = "utf-8-sig" if start == b"\xef\xbb\xbf" else "utf-8"
    decoder = codecs.getincrementaldecoder("utf-8")()
    newlines = 0
    has_text = False
    has_utf8 = False  # a multi-byte UTF-8 sequence seen
    not_utf8: tuple[UnicodeDecodeError, int] | None = None  # the first, its row
    not_cp1252: tuple[int, int] | None = None  # (byte, row) of the first
    tail = b""  # the last bytes of the block before: a sequence may straddle
    for block in _blocks(source):
        if not has_text and block.strip():
            has_text = True
        if not_utf8 is None:
            try:
                # What the decoder keeps back (a sequence the next block
                # ends) is not known valid yet: the decoded text tells.
                has_utf8 = not decoder.decode(block).isascii() or has_utf8
            except UnicodeDecodeError as error:
                # The decoder's error is on its own buffer and this block.
                row = newlines + error.object.count(b"\n", 0, error.start) + 1
                not_utf8 = (error, row)
                has_utf8 = has_utf8 or not error.object[: error.start].isascii()
        if not_utf8 is not None and not has_utf8 and encoding == "utf-8":
            has_utf8 = _UTF8_SEQUENCE.search(tail + block) is not None
        if not_cp1252 is None and (found := _NOT_CP1252.search(block)):
            not_cp1252 = (
                block[found.start()],
                newlines + block.count(b"\n", 0, found.start()) + 1,
            )
        newlines += block.count(b"\n")
        tail = block[-3:]
    if not_utf8 is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as error:
            not_utf8 = (error, newlines + 1)
    if not_utf8 is None:
        return _Scan(encoding, newlines, has_text)
    if not has_text:
        return _Scan(encoding, newlines, has_text)
    error, row = not_utf8
    if encoding == "utf-8-sig" or has_utf8:
        raise ImportFileError(
            f"The file {name}mixes encodings: row {row} is not UTF-8 "
            f"({_bad_bytes(error)}) while other rows are. Save the file as "
            "UTF-8 and import it again."
        ) from error
    if not_cp1252 is not None:
        byte, row = not_cp1252
        raise ImportFileError(
            f"The file {name}is neither UTF-8 nor Windows-1252: row {row} has "
            f"0x{byte:02X}. Save the file as UTF-8 and import it again."
        )
    return _Scan("cp1252", newlines, has_text)


def _looks_binary(sample: bytes) -> bool:
    return b"\x00" in sample or sample.startswith((b"PK\x03\x04", b"%PDF", b"\x89PNG"))


def _size(source: BinaryIO) -> int:
    size = source.seek(0, io.SEEK_END)
    source.seek(0)
    return size


def read_table(data: ImportData, *, max_bytes: int, filename: str = "") -> Table:
    """Check and open a CSV file (bytes or a seekable binary file); refuse
    what is not a usable CSV file."""
    name = f"{filename} " if filename else ""
    source = (
        io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data
    )
    size = _size(source)
    if size > max_bytes:
        raise ImportFileError(
            f"The file {name}is {size / 1_048_576:.1f} MB; the limit is "
            f"{max_bytes / 1_048_576:.0f} MB. Split it into smaller files."
        )
    sample = source.read(4096)
    if not sample.strip() and size <= len(sample):
        raise ImportFileError(
            f"The file {name}is empty. Choose a CSV file with orders."
        )
    if _looks_binary(sample) and not sample.startswith(_UTF16_BOMS):
        raise ImportFileError(
            f"The file {name}is not a CSV text file (it looks like a spreadsheet, PDF "
            "or image). Save it as CSV (comma-separated values) and try again."
        )
    scan = _scan(source, name)
    if not scan.has_text:
        raise ImportFileError(
            f"The file {name}is empty. Choose a CSV file with orders."
        )
    first_line = next(_lines(source, scan.encoding), "").split("\n", 1)[0]
    delimiter = max([",", ";", "\t"], key=first_line.count)
    if first_line.count(delimiter) == 0:
        raise ImportFileError(
            f"The file {name}is not a CSV file: its first line has no column "
            "separators. The first line must be the header row."
        )
    reader = csv.reader(_lines(source, scan.encoding), delimiter=delimiter)
    rows = _data_rows(reader, name)
    try:
        header = [column.strip() for column in next(reader)]
        first = next(rows, None)
    except csv.Error as error:
        raise _csv_error(error, reader, name) from error
    if first is None:
        raise ImportFileError(
            f"The file {name}has a header row but no orders. Add at least one row."
        )
    return Table(
        header=header,
        source=source,
        encoding=scan.encoding,
        delimiter=delimiter,
        row_count=max(1, scan.newlines - 1),
        name=name,
    )


def _lines(source: BinaryIO, encoding: str) -> Iterator[str]:
    """Yield the lines of the file, decoded, with their line ends (only
    "\\n" ends a line, as `str.split` would), block by block."""
    decoder = codecs.getincrementaldecoder(encoding)()
    rest = ""
    for block in itertools.chain(_blocks(source), [None]):
        text = rest + decoder.decode(block or b"", final=block is None)
        start, end = 0, text.find("\n")
        while end != -1:
            yield text[start : end + 1]
            start = end + 1
            end = text.find("\n", start)
        rest = text[start:]
    if rest:
        yield rest


def _csv_error(error: csv.Error, reader, name: str) -> ImportFileError:
    row = reader.line_num
    if "field larger than field limit" in str(error):
        return ImportFileError(
            f"The file {name}is not usable CSV: row {row} has a value longer than "
            f"{csv.field_size_limit():,} characters, usually a quote that is never "
            "closed. Check the quotes around that row and save the file again."
        )
    return ImportFileError(
        f"The file {name}is not valid CSV: {error} (row {row}). Check the quotes "
        "and separators around that row and save the file again."
    )


def _data_rows(reader, name: str) -> Iterator[tuple[int, list[str]]]:
    """Yield the rows that hold anything, numbered as a spreadsheet shows
    them (the header is row 1; an empty row still counts)."""
    try:
        for number, row in enumerate(reader, start=2):
            if any(row) and any(cell.strip() for cell in row):
                yield number, row
    except csv.Error as error:
        raise _csv_error(error, reader, name) from error
