"""Resolve parsed import orders against the database: channels, products,
orders already imported and known customers, each with one set-based query."""

from core.limits import model_value_problem, shown
from core.lookups import any_of
from inventory.models import Product
from orders.importing.result import ImportResult
from orders.importing.validate import ParsedOrder, Problem
from orders.models import Channel, Customer, Order, OrderLine
from orders.services.drafts import customer_key


def values_lookup(queryset, key: str, values: list, *fields: str) -> list[tuple]:
    """`queryset.filter(key__in=values).values_list(*fields)`, for long lists:
    the values go as one array parameter (`= ANY`), far cheaper to send than
    thousands of placeholders."""
    # No stored text holds NUL (PostgreSQL refuses it even in a query), so a
    # value with one matches nothing; the check reports it.
    values = [value for value in values if "\x00" not in value]
    if not values:
        return []
    return list(queryset.filter(any_of(key, values)).values_list(*fields))


def orders_resolve(
    orders: list[ParsedOrder],
    *,
    channel: Channel | None,
    format_code: str,
    result: ImportResult,
) -> None:
    """Attach channels, products and customers; mark duplicates and problems."""
    channels = {c.code: c for c in Channel.objects.all()}
    for order in orders:
        code = order.values.get("channel", "")
        if code:
            if code not in channels:
                order.problems.append(
                    Problem(
                        order.first_row,
                        "channel",
                        f"unknown channel {shown(code)}; use one of: "
                        f"{', '.join(sorted(channels))}.",
                        order.external_id,
                    )
                )
                continue
            order.channel_id = channels[code].pk
        elif channel is not None:
            order.channel_id = channel.pk
        else:
            order.problems.append(
                Problem(
                    order.first_row,
                    "channel",
                    "no channel: choose one for the file or fill the channel column.",
                    order.external_id,
                )
            )

    skus = sorted({line.sku for order in orders for line in order.lines if line.sku})
    products = {
        sku: (pk, name, active)
        for pk, sku, name, active in values_lookup(
            Product.objects.all(), "sku", skus, "pk", "sku", "name", "active"
        )
    }
    sku_column = "Lineitem sku" if format_code == "shopify" else "sku"
    for order in orders:
        for line in order.lines:
            found = products.get(line.sku)
            # A line that does not ship may name a SKU no product has.
            if line.sku and found is None and line.requires_shipping:
                order.problems.append(
                    Problem(
                        line.row,
                        sku_column,
                        line.named(
                            f"unknown SKU {line.sku!r}: add the product or "
                            "correct the SKU."
                        ),
                        order.external_id,
                    )
                )
            elif found:
                line.product_id, line.product_name = found[0], found[1]
                if message := model_value_problem(OrderLine, "name", found[1]):
                    order.problems.append(
                        Problem(
                            line.row,
                            sku_column,
                            f"the name of product {line.sku} does not fit an order "
                            f"line: {message}",
                            order.external_id,
                        )
                    )

    by_channel: dict[int, list[str]] = {}
    for order in orders:
        if order.channel_id:
            by_channel.setdefault(order.channel_id, []).append(order.external_id)
    existing: set[tuple[int, str]] = set()
    for channel_id, external_ids in by_channel.items():
        existing.update(
            (channel_id, ext)
            for (ext,) in values_lookup(
                Order.objects.filter(channel_id=channel_id),
                "external_id",
                external_ids,
                "external_id",
            )
        )
    for order in orders:
        if (order.channel_id, order.external_id) in existing:
            order.skip_reason = order.skip_reason or "already imported"

    customers = customers_lookup(sorted({parsed_customer_key(o) for o in orders}))
    for order in orders:
        order.customer_id = customers.get(parsed_customer_key(order))


def parsed_customer_phone(order: ParsedOrder) -> str:
    """The phone the order's customer is kept with (the address's when the
    customer gave none)."""
    return order.values.get("phone", "") or order.values.get("ship_phone", "")


def parsed_customer_key(order: ParsedOrder) -> str:
    """How the order's customer is found (`customer_key`)."""
    return customer_key(
        email=order.values.get("email", ""), phone=parsed_customer_phone(order)
    )


def customers_lookup(keys: list[str]) -> dict[str, int]:
    """The ids of the stored customers with these keys (`customer_key`): by
    e-mail, in any case, or by phone for those without an e-mail."""
    phones = [key.removeprefix("phone:") for key in keys if key.startswith("phone:")]
    emails = [key for key in keys if key and not key.startswith("phone:")]
    found = dict(
        values_lookup(
            Customer.objects.with_email_lower(),
            "email_lower",
            emails,
            "email_lower",
            "pk",
        )
    )
    found.update(
        (f"phone:{phone}", pk)
        for phone, pk in values_lookup(
            Customer.objects.filter(email=""), "phone", phones, "phone", "pk"
        )
    )
    return found
