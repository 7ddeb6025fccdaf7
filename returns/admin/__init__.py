"""The returns admin, by subject: `returns` (return requests and their steps),
`refunds`, `report`, and `order_panel` (the returns part of the one order
admin, composed and registered by `oms.admin`)."""

from returns.admin import (  # noqa: F401  (registers the admins)
    refunds,
    return_labels,
    returns,
)
