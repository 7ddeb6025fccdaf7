"""Admin of the connections, by subject: `inbox` (what the shops sent) and
`outbox` (what they and the channels were told, Replay, channel listings)."""

from connections.admin import inbox, outbox  # noqa: F401 - registers them
