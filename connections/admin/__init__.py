"""Admin of the connections, by subject: `channels` (a channel's page as the
place its shop is connected, API keys), `inbox` (what the shops sent) and
`outbox` (what they, the channels and customers were told, Replay, paused
destinations, channel listings)."""

from connections.admin import channels, inbox, outbox  # noqa: F401 - registers them
