"""Orders that channels send: the order API's payload, Shopify and WooCommerce
webhooks, and the inbox that stores each message raw before it is processed.

`payload` checks an order in the API's shape with the CSV import's own
checks (orders.importing.validate); `shopify` and `woocommerce` turn their
platform's order resource into that shape; `inbox` stores, processes and
replays messages; `views` receives the shop webhooks.
"""
