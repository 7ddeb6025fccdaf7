"""Every write to returns and refunds, by subject: `returns` (open, decide,
receive, inspect, exchange, close), `refunds` (propose, approve, reject) and
`labels` (the return label's print log). Import from the submodules."""
