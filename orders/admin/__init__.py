"""Admin of the orders app, by subject: `orders` (the order admin base, order
lines and events), `customers` (channels and customers; `channel_connection` its
shop secrets), `records` (import jobs, customer e-mails), `rules` (rules, order tags).
`OrderAdminBase` is registered by `oms.admin`."""

from orders.admin import (  # noqa: F401 - registers them
    customer_requests,
    customers,
    orders,
    records,
    rules,
)
