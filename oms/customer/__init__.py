"""The customer's order page: a signed link per order, no login.

It reads orders, shipments with their scans, and returns, and acts through
the services of all three apps, so it lives in the project on top of them.
"""
