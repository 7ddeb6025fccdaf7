"""Admin of the connections, by subject: `inbox` (what the shops sent)."""

from connections.admin import inbox  # noqa: F401 - registers them
