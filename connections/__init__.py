"""Everything that talks to shops: the inbox and the one outbox, one folder
per platform holding both directions."""
