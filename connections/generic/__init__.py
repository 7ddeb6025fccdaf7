"""Generic channels: our signed Standard Webhooks, both for what the outbox
sends (`webhooks`) — the channel's own orders come in through the order API
(`connections.api`)."""
