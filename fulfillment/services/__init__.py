"""Every write of the fulfillment app, by subject: `picking` (pick lists),
`packing`, `shipping` (handing to the carrier), `tracking` (carrier news and
delivery), `printing` (the document trail and background print batches)
and `postage` (buying labels through EasyPost).

Import from the subject modules; this package re-exports nothing.
"""
