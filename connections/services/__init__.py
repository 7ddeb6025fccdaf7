"""Every write of the connections app, by subject."""
