"""The inbox: every order message a channel sends (the order API, Shopify and
WooCommerce webhooks), stored raw before it is answered, then applied by the
worker through the orders app's services.

By subject, each module using only those above it in this list:

- `messages`: a stored message's clean text and the marks of an API order;
- `payload`: the order API's body checked with the CSV import's validator;
- `changing`: a shop's update of an order here checked as an update (the
  fields it may change), not as a new order;
- `waking`, `allocating`: one delayed worker task per process and interval;
  stock reserved for the API's orders once written;
- `applying`: take an order in, change it, cancel it (a drain's `Batch`
  passed explicitly: new orders left for the batch, `AFTER_BATCH` for a
  message that needs them written first);
- `platforms`: what a Shopify or WooCommerce webhook asks for (their payloads
  are read by `connections.shopify.inbound` and
  `connections.woocommerce.inbound`);
- `processing`: one message applied once under its lock, the outcome saved;
- `draining`: waiting messages in batches, one transaction each;
- `storing`: a message stored in one statement, the worker woken;
- `replay`: Replay from the admin, and the sweep of what a lost drain left;
- `webhooks`: the shops' signed webhooks received.

The order API's own intake (checked in the request, answered at once, written
by the drain) is `connections.api.intake`.
"""
