"""Admin of the orders app, by subject: `orders` (the order admin base, with
`order_list` its list's filters and paging, `order_page` its page's tables),
`customers` (channels and customers; `channel_connection` its shop secrets),
`customer_requests`, `records` (order lines and events, import jobs,
customer e-mails), `rules` (rules, order tags). `OrderAdminBase` is
registered by `oms.admin`."""

from orders.admin import (  # noqa: F401 - registers them
    customer_requests,
    customers,
    orders,
    records,
    rules,
)
