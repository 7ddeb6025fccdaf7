"""Turn an uploaded file into a header and rows, or say why it cannot be read."""

import csv
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from core.exceptions import DomainError


class ImportFileError(DomainError):
    """The file as a whole cannot be imported (not CSV, empty, too big...)."""


@dataclass
class Table:
    """The header, and the data rows as a one-pass iterator (big files are
    never held as a list of rows)."""

    header: list[str]
    # (row, cells), rows numbered as a spreadsheet shows them: the header is
    # row 1, and a row is one row however many lines its quoted cells span
    # (a Shopify export's notes often do).
    rows: Iterator[tuple[int, list[str]]]
    encoding: str
    delimiter: str
    row_count: int

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


def _row_of(data: bytes, offset: int) -> int:
    """Return the line number (the header is 1) of a byte offset."""
    return data.count(b"\n", 0, offset) + 1


def _bad_bytes(error: UnicodeDecodeError) -> str:
    return " ".join(f"0x{byte:02X}" for byte in error.object[error.start : error.end])


def _decode(data: bytes, name: str) -> tuple[str, str]:
    """Decode the whole file in one encoding, or refuse naming the first bad row.

    UTF-8 (with or without a byte-order mark) when it is valid; a file with
    valid UTF-8 in some rows and not in others is a mix (rows pasted from
    different programs) and is refused; otherwise Windows-1252, which Excel
    on Windows writes for "CSV".
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as error:
            row = data[: error.start].decode("utf-16", errors="replace").count("\n")
            raise ImportFileError(
                f"The file {name}starts as UTF-16 but row {row + 1} is not UTF-16 "
                f"({_bad_bytes(error)}); save the file as UTF-8 and import it again."
            ) from error
    body, encoding = data, "utf-8"
    if data.startswith(b"\xef\xbb\xbf"):
        body, encoding = data[3:], "utf-8-sig"
    try:
        return body.decode("utf-8"), encoding
    except UnicodeDecodeError as error:
        not_utf8 = error
    if encoding == "utf-8-sig" or _UTF8_SEQUENCE.search(body):
        row = _row_of(body, not_utf8.start)
        raise ImportFileError(
            f"The file {name}mixes encodings: row {row} is not UTF-8 "
            f"({_bad_bytes(not_utf8)}) while other rows are. Save the file as "
            "UTF-8 and import it again."
        ) from not_utf8
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as error:
        raise ImportFileError(
            f"The file {name}is neither UTF-8 nor Windows-1252: row "
            f"{_row_of(data, error.start)} has {_bad_bytes(error)}. Save the file "
            "as UTF-8 and import it again."
        ) from error


def _looks_binary(data: bytes) -> bool:
    sample = data[:4096]
    return b"\x00" in sample or sample.startswith((b"PK\x03\x04", b"%PDF", b"\x89PNG"))


def read_table(data: bytes, *, max_bytes: int, filename: str = "") -> Table:
    """Decode and split a CSV file; refuse what is not a usable CSV file."""
    name = f"{filename} " if filename else ""
    if len(data) > max_bytes:
        raise ImportFileError(
            f"The file {name}is {len(data) / 1_048_576:.1f} MB; the limit is "
            f"{max_bytes / 1_048_576:.0f} MB. Split it into smaller files."
        )
    if not data.strip():
        raise ImportFileError(
            f"The file {name}is empty. Choose a CSV file with orders."
        )
    if _looks_binary(data) and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(
            f"The file {name}is not a CSV text file (it looks like a spreadsheet, PDF "
            "or image). Save it as CSV (comma-separated values) and try again."
        )
    text, encoding = _decode(data, name)
    first_line = text.split("\n", 1)[0]
    delimiter = max([",", ";", "\t"], key=first_line.count)
    if first_line.count(delimiter) == 0:
        raise ImportFileError(
            f"The file {name}is not a CSV file: its first line has no column "
            "separators. The first line must be the header row."
        )
    reader = csv.reader(_lines(text), delimiter=delimiter)
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
        rows=itertools.chain([first], rows),
        encoding=encoding,
        delimiter=delimiter,
        row_count=max(1, text.count("\n") - 1),
    )


def _lines(text: str) -> Iterator[str]:
    """Yield the lines of a text with their line ends, without copying it whole."""
    start, length = 0, len(text)
    while start < length:
        end = text.find("\n", start)
        if end == -1:
            yield text[start:]
            return
        yield text[start : end + 1]
        start = end + 1


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
