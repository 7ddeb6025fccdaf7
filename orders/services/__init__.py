"""Every write to orders, by subject: `orders` (customers, create, update),
`allocation` (reserving stock, backorders), `lifecycle` (picking to delivery,
holds, cancels). Import from the submodule."""
