"""Postage through EasyPost, in one package: the client (`client`), parcels
and addresses (`parcels`), rates (`rates`), address checks (`addresses`),
buying labels, which ships the shipment (`buying`), voiding them, which
takes the shipping back (`voids`), bought labels in printing and ZPL
(`labels`), end-of-day scan forms (`scan_forms`), prepaid return labels
(`returns`), and bounded concurrent calls (`concurrency`). The records are
in `fulfillment.models.postage`; their row locks in `fulfillment.locks`.

Every call to EasyPost runs outside a transaction and without row locks:
a service plans under lock (`plan`), calls EasyPost (`client`), then
records the answer under lock again. Tasks live beside the functions they
run.
"""
