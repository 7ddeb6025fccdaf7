"""Postage: carrier accounts (manual or EasyPost), parcels and boxes, rates,
buying labels, voids, end-of-day scan forms, return labels and address
checks.

Every call to EasyPost runs outside a transaction and without row locks:
a service plans under lock (`plan`), calls EasyPost (`client`), then
records the answer under lock again. Tasks live beside the functions they
run.
"""
