"""Admin of the warehouse, by subject: `shipments` (shipments, the pack and
ship forms, tracking entry), `pick_lists`, `printing` (documents and
background print batches), `logs` (tracking events, the channel webhook
deliveries of before the outbox, the print log), `carriers`, and
`customer_requests` (carrying out a cancel request on a packed order),
`order_panel`, the fulfillment
part of the one order admin (`FulfillmentOrderAdminMixin`, composed and
registered in `oms.admin`).

Thin: every change is a call to `fulfillment.services`, every PDF comes from
`fulfillment.documents`; domain errors come back as messages.
"""

from fulfillment.admin import (  # noqa: F401 - registers them
    carriers,
    customer_requests,
    logs,
    packstation,
    pick_lists,
    postage,
    postage_settings,
    printing,
    shipments,
    waves,
)
