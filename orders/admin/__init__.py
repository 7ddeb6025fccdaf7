"""Admin of the orders app, by subject: `orders` (the order admin base, order
lines and events), `customers` (channels and customers), `inbox` (inbound
messages, API keys), `records` (import jobs, customer e-mails).
`OrderAdminBase` is registered by `oms.admin`."""

from orders.admin import customers, inbox, orders, records  # noqa: F401 - registers them
