"""The ship-to address of an order: its fields, its input record, its lines.

Use `SHIP_TO_FIELDS` wherever the order's address fields are listed,
`Address` to pass an address into `order_create`
(`Address.from_fields(order_or_mapping)` copies one), and
`address_lines(order)` / `postal_address(order)` to print one::

    from orders.addresses import address_lines, postal_address

    address_lines(order)  # ("1 Main St", "Austin, TX 78701")
    postal_address(order)  # PostalAddress(name=..., lines=..., country=...)

Both formatters take an order, or any object or mapping with the `ship_*`
names (a dict of form data, an import row).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The order's address fields, in the order people write them.
SHIP_TO_FIELDS = (
    "ship_name",
    "ship_company",
    "ship_address1",
    "ship_address2",
    "ship_city",
    "ship_region",
    "ship_postcode",
    "ship_country",
    "ship_phone",
)

# Countries that write "City, Region Postcode" rather than "Postcode City".
CITY_FIRST = {"US", "CA", "AU", "GB", "IE"}


@dataclass(frozen=True)
class Address:
    """A ship-to address on its way into an order."""

    name: str
    address1: str
    city: str
    country: str
    company: str = ""
    address2: str = ""
    region: str = ""
    postcode: str = ""
    phone: str = ""

    @classmethod
    def from_fields(cls, values: Any) -> "Address":
        """Read an address from an order or a mapping with the `ship_*` names."""
        return cls(
            **{
                field.removeprefix("ship_"): _value(values, field)
                for field in SHIP_TO_FIELDS
            }
        )

    def as_order_fields(self) -> dict[str, str]:
        """Return the order's `ship_*` field values for this address."""
        return {
            "ship_name": self.name,
            "ship_company": self.company,
            "ship_address1": self.address1,
            "ship_address2": self.address2,
            "ship_city": self.city,
            "ship_region": self.region,
            "ship_postcode": self.postcode,
            "ship_country": self.country.upper(),
            "ship_phone": self.phone,
        }


@dataclass(frozen=True)
class PostalAddress:
    """An address as printed on a label or slip: name, company, lines, country."""

    name: str
    company: str
    lines: tuple[str, ...]
    country: str
    phone: str = ""


def _value(source: Any, field: str) -> str:
    if isinstance(source, Mapping):
        value = source.get(field, "")
    else:
        value = getattr(source, field, "")
    return value or ""


def address_lines(source: Any) -> tuple[str, ...]:
    """Return the street and town lines of a ship-to address, blanks left out.

    The town line follows the country's custom: "City, Region Postcode" in
    `CITY_FIRST` countries, "Postcode City Region" elsewhere.
    """
    city, region, postcode = (
        _value(source, "ship_city"),
        _value(source, "ship_region"),
        _value(source, "ship_postcode"),
    )
    if _value(source, "ship_country").upper() in CITY_FIRST:
        town = f"{city}, {region} {postcode}"
    else:
        town = f"{postcode} {city} {region}"
    lines = [
        _value(source, "ship_address1"),
        _value(source, "ship_address2"),
        " ".join(town.split()),
    ]
    return tuple(line.strip(" ,") for line in lines if line.strip(" ,"))


def postal_address(source: Any) -> PostalAddress:
    """Return the ship-to address of an order (or mapping) ready to print."""
    return PostalAddress(
        name=_value(source, "ship_name"),
        company=_value(source, "ship_company"),
        lines=address_lines(source),
        country=_value(source, "ship_country"),
        phone=_value(source, "ship_phone"),
    )
