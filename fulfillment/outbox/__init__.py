"""The outbox back to the shops: what a sales channel must hear is recorded
in the transaction of the change (`record`), then sent by a worker in the
platform's own API (`shopify`, `woocommerce`, or the signed Standard Webhooks
of `generic`), one bounded request per attempt, retried on a schedule,
logged and replayable (`send`). Stock pushes are coalesced per channel and
SKU (`stock`)."""
