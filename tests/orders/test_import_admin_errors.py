"""No file makes the admin import answer 500: each bad file gets a page that
says what is wrong and what to do, and nothing is written."""

import pytest

from orders.models import ImportJob
from tests.orders.test_import import HEADER, catalogue, csv_bytes, nothing_written, row  # noqa: F401
from tests.orders.test_import_admin import manager_client, upload  # noqa: F401

pytestmark = pytest.mark.usefixtures("catalogue")

PADDING = "x" * 5000


def padded(*rows) -> bytes:
    """Rows after a long first column, so a NUL lies past the binary sniff."""
    return csv_bytes([{"note": PADDING, **r} for r in rows], header=["note", *HEADER])


BAD_FILES = [
    ("empty", b"", "orders.csv", "The submitted file is empty."),
    ("wrong-extension", csv_bytes([row()]), "orders.xlsx", "is not a .csv file"),
    (
        "binary",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10,
        "orders.csv",
        "is not a CSV text file",
    ),
    (
        "huge-field",
        csv_bytes([row()]) + b'B-1,web,"' + b"x" * 200_000 + b"\n",
        "orders.csv",
        "row 3 has a value longer than 131,072 characters",
    ),
    (
        "mixed-encoding",
        csv_bytes([row(ship_city="São Paulo")])
        + csv_bytes([row(ref="A-2", ship_city="Málaga")], encoding="cp1252").split(
            b"\n", 1
        )[1],
        "orders.csv",
        "row 3 is not UTF-8 (0xE1) while other rows are. Save the file as UTF-8",
    ),
    (
        "undecodable",
        csv_bytes([row()]).replace(b"Austin", b"Aus\x81tin"),
        "orders.csv",
        "is neither UTF-8 nor Windows-1252: row 2 has 0x81",
    ),
    ("no-header", b"just words\n", "orders.csv", "has no column separators"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "name", "message"),
    [c[1:] for c in BAD_FILES],
    ids=[c[0] for c in BAD_FILES],
)
def test_bad_file_is_refused_on_the_form_with_a_clear_message(
    manager_client,  # noqa: F811
    data,
    name,
    message,
):
    response = upload(manager_client, data, name=name)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ImportJob.objects.exists()


BAD_VALUES = [
    (
        "nul-deep-in-the-file",
        padded(row(), row(ref="A-2", ship_city="Aus\x00tin")),
        "row 3, column ship_city: contains a NUL character (U+0000)",
    ),
    (
        "quote-left-open",
        csv_bytes([row()])
        + b'A-2,web,2026-11-20 10:00,b@example.com,B,"B,1 Main St,Austin,78701,US,'
        b"USD,TSH-BLK-M,1,10.00,4.95\n"
        + csv_bytes([row(ref="A-3")]).split(b"\n", 1)[1],
        "column ship_name: contains a line break (U+000A)",
    ),
    (
        "amount-too-large",
        csv_bytes([row(price="10000000000")]),
        "row 2, column unit_price: 10000000000 is too large: the most it can be is "
        "9999999999.99.",
    ),
    (
        "name-too-long",
        csv_bytes([row(ship_name="N" * 201)]),
        "row 2, column ship_name: &#x27;NNNN",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"), [c[1:] for c in BAD_VALUES], ids=[c[0] for c in BAD_VALUES]
)
def test_value_the_database_would_refuse_shows_in_the_preview_without_confirm(
    manager_client,  # noqa: F811
    data,
    message,
):
    response = upload(manager_client, data)
    page = manager_client.get(response.url)

    assert page.status_code == 200
    content = page.content.decode()
    assert message in content
    assert "Confirm import" not in content
    assert nothing_written()


@pytest.mark.django_db
def test_file_name_with_control_characters_is_kept_printable(
    manager_client,  # noqa: F811
):
    response = upload(manager_client, csv_bytes([row()]), name="or\x1bders\x7f.csv")

    assert response.status_code == 302
    assert ImportJob.objects.get().filename == "orders.csv"
