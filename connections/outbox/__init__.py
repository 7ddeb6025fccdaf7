"""The one outbox: everything the shops and channels must hear is recorded in
the transaction of the change (`services`, `shipments`, `orders`, `stock`;
the lower apps' hooks reach them through `handlers`), then sent by a worker
(`sending`) in the platform's own API (`connections.shopify.outbound`,
`connections.woocommerce.outbound`) or as our signed Standard Webhooks
(`connections.generic.webhooks`), one bounded request per attempt (`connections.http`),
one retry policy (`rules`), every attempt logged, replayable from the admin.
Stock pushes are coalesced per channel and SKU (`stock`)."""
