"""Postage through EasyPost: the client (`client`), parcels and addresses
(`parcels`), rates (`rates`), address checks (`addresses`), bought labels
in printing and ZPL (`labels`), end-of-day scan forms (`scan_forms`),
prepaid return labels (`returns`), and bounded concurrent calls
(`concurrency`). The records are in `fulfillment.models.postage`; buying,
which ships, is `fulfillment.postage.buying`, and voiding, which takes
the shipping back, `fulfillment.postage.voids`.

Every call to EasyPost runs outside a transaction and without row locks:
a service plans under lock (`plan`), calls EasyPost (`client`), then
records the answer under lock again. Tasks live beside the functions they
run.
"""
