"""The connections app's models, by subject; every model is importable from here."""

from connections.models.checks import ConnectionCheck  # noqa: F401
from connections.models.inbox import (  # noqa: F401
    ChannelApiKey,
    InboundMessage,
)
from connections.models.outbox import (  # noqa: F401
    ChannelListing,
    OutboundAttempt,
    OutboundMessage,
    OutboxDestination,
)
