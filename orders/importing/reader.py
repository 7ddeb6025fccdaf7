"""Turn an uploaded file into a header and rows, or say why it cannot be read."""

import csv
import itertools
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
    # (line number in the file, cells); the header is line 1.
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


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # Excel on Windows saves "CSV" in the ANSI code page.
        return data.decode("cp1252", errors="replace"), "cp1252"


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
    text, encoding = _decode(data)
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
        raise ImportFileError(f"The file {name}is not valid CSV: {error}.") from error
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


def _data_rows(reader, name: str) -> Iterator[tuple[int, list[str]]]:
    try:
        for row in reader:
            if any(row) and any(cell.strip() for cell in row):
                yield reader.line_num, row
    except csv.Error as error:
        raise ImportFileError(f"The file {name}is not valid CSV: {error}.") from error
