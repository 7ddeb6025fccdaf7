"""Rules managers write: conditions and actions checked on intake, allocation
and packing (`services.rules_apply`), and tried on past orders first."""
