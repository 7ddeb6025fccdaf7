"""A file is read in one encoding or refused naming the first row that is
not in it: never stored garbled."""

import pytest

from orders.importing.reader import ImportFileError
from orders.models import Order
from tests.orders.test_import import catalogue, csv_bytes, nothing_written, row, run  # noqa: F401

pytestmark = pytest.mark.usefixtures("catalogue")


def lines(*rows) -> list[bytes]:
    return csv_bytes(list(rows)).split(b"\n")


@pytest.mark.django_db
def test_utf8_file_is_read_as_utf8_without_a_notice():
    data = csv_bytes([row(ship_city="São Paulo", ship_country="BR")])

    result = run(data)

    assert result.written and result.notices == []
    assert Order.objects.get().ship_city == "São Paulo"


@pytest.mark.django_db
def test_windows_1252_file_is_read_as_windows_1252_and_says_so():
    data = csv_bytes(
        [row(ship_city="São Paulo", ship_country="BR", ship_name="Zoë – “Z”")],
        encoding="cp1252",
    )

    result = run(data)

    assert result.written
    assert result.notices == ["Read as Windows-1252 text (the file is not UTF-8)."]
    order = Order.objects.get()
    assert (order.ship_city, order.ship_name) == ("São Paulo", "Zoë – “Z”")


@pytest.mark.django_db
def test_file_mixing_utf8_and_windows_1252_rows_is_refused_naming_the_row():
    header, utf8_row, *_ = lines(row(ref="A-1", ship_city="São Paulo"))
    cp1252_row = csv_bytes(
        [row(ref="A-2", ship_city="Málaga")], encoding="cp1252"
    ).split(b"\n")[1]
    data = b"\n".join([header, utf8_row, utf8_row.replace(b"A-1", b"A-3"), cp1252_row])

    with pytest.raises(ImportFileError) as refused:
        run(data, filename="mixed.csv")

    assert str(refused.value) == (
        "The file mixed.csv mixes encodings: row 4 is not UTF-8 (0xE1) while "
        "other rows are. Save the file as UTF-8 and import it again."
    )
    assert nothing_written()


@pytest.mark.django_db
def test_windows_1252_row_before_utf8_rows_is_refused_too():
    header, utf8_row, *_ = lines(row(ref="A-1", ship_city="São Paulo"))
    cp1252_row = csv_bytes(
        [row(ref="A-2", ship_city="Málaga")], encoding="cp1252"
    ).split(b"\n")[1]

    with pytest.raises(ImportFileError) as refused:
        run(b"\n".join([header, cp1252_row, utf8_row]))

    assert "row 2 is not UTF-8" in str(refused.value)
    assert nothing_written()


@pytest.mark.django_db
def test_utf8_file_with_a_byte_order_mark_and_a_bad_row_is_refused():
    data = b"\xef\xbb\xbf" + csv_bytes([row(), row(ref="A-2", ship_city="M\xe1laga")])
    data = data.replace("Málaga".encode(), b"M\xe1laga")

    with pytest.raises(ImportFileError) as refused:
        run(data)

    assert "row 3 is not UTF-8 (0xE1)" in str(refused.value)
    assert nothing_written()


@pytest.mark.django_db
def test_bytes_that_are_neither_utf8_nor_windows_1252_are_refused():
    data = csv_bytes([row(ship_city="Austin")]).replace(b"Austin", b"Aus\x81tin")

    with pytest.raises(ImportFileError) as refused:
        run(data)

    assert "is neither UTF-8 nor Windows-1252: row 2 has 0x81" in str(refused.value)
    assert nothing_written()


@pytest.mark.django_db
def test_broken_utf16_file_is_refused():
    data = csv_bytes([row()], encoding="utf-16")[:-1]

    with pytest.raises(ImportFileError) as refused:
        run(data)

    assert "is not UTF-16" in str(refused.value)
    assert nothing_written()
