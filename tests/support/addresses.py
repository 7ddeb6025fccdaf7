"""Ship-to addresses at every field's maximum length, for the label tests."""

from orders.addresses import postal_address
from orders.models import Order

# Free-text fields filled to their maximum by repeating the text (the last
# word may then be cut by the limit itself); postcodes as the country writes
# them.
MAXIMUM_ADDRESSES = {
    "latin": {
        "ship_country": "US",
        "ship_name": "Wolfgang Amadeus Mozartstraße Hinterhaus Aufgang ",
        "ship_company": "Wolfgang Amadeus Mozartstraße Hinterhaus Aufgang ",
        "ship_address1": "Wolfgang Amadeus Mozartstraße Hinterhaus Aufgang ",
        "ship_address2": "Wolfgang Amadeus Mozartstraße Hinterhaus Aufgang ",
        "ship_city": "Wolfgang Amadeus Mozartstraße Hinterhaus Aufgang ",
        "ship_region": "Wolfgang Amadeus Mozartstraße Hinterhaus Aufgang ",
        "ship_postcode": "78701-1234",
        "ship_phone": "+1 512 555 0199 ",
    },
    "german": {
        "ship_country": "DE",
        "ship_name": "Maximilian Müller-Lüdenscheidt ",
        "ship_company": "Großbäckerei Überlingen GmbH & Co. KG ",
        "ship_address1": "Kurfürstendamm 195 Hinterhaus Aufgang Süd ",
        "ship_address2": "Fußgängerzone Königsallee Straßenbahnhaltestelle ",
        "ship_city": "Berlin-Charlottenburg-Wilmersdorf ",
        "ship_region": "",
        "ship_postcode": "10623",
        "ship_phone": "+49 30 1234 5678 ",
    },
    "uk": {
        "ship_country": "GB",
        "ship_name": "Sir Bartholomew Featherstonehaugh-Cholmondeley ",
        "ship_company": "The Worshipful Company of Upholders Ltd ",
        "ship_address1": "Flat 12 Buckingham Palace Road Westminster ",
        "ship_address2": "Unit 4 Holyhead Road Industrial Estate ",
        "ship_city": "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch ",
        "ship_region": "Isle of Anglesey ",
        "ship_postcode": "LL61 5UJ",
        "ship_phone": "+44 20 7946 0958 ",
    },
}
REPEATED = (
    "ship_name",
    "ship_company",
    "ship_address1",
    "ship_address2",
    "ship_city",
    "ship_region",
    "ship_phone",
)


def longest(text: str, field: str) -> str:
    """`text` repeated to the field's maximum length."""
    if not text:
        return ""
    size = Order._meta.get_field(field).max_length
    return (text * (size // len(text) + 1))[:size].strip()


def address_at_maximum(kind: str) -> dict[str, str]:
    """Return the order fields of a ship-to address at their maximum length."""
    values = dict(MAXIMUM_ADDRESSES[kind])
    for field in REPEATED:
        values[field] = longest(values[field], field)
    return values


def printed_lines(source) -> list[str]:
    """The lines of a ship-to address (an order or its field values) that a
    label must print whole."""
    address = postal_address(source)
    return [
        line
        for line in (
            address.name,
            address.company,
            *address.lines,
            address.country,
            address.phone,
        )
        if line
    ]
