"""The scan-to-verify pack station: a packer opens a shipment by its slip's
barcode, scans every unit, and one key packs it, has its label bought or
takes its tracking number, and ships it.

Scans are stored per shipment (`PackScan`), so a refresh or a second packer
never counts twice; the shipment's row lock serialises the scans, and a
`PackClaim` keeps the shipment at one station until another takes it over
explicitly. Every service locks in the global order: order, then shipment.

By subject: `station` (what the station shows and checks), `scanning`
(open, scan, item missing), `dispatch` (pack and ship, the label bought in
the background). The services are importable from here.
"""

from fulfillment.services.packstation.dispatch import (  # noqa: F401
    PackOutcome,
    label_progress,
    packstation_label_task,
    packstation_pack,
    parcels_parse,
    weight_parse,
)
from fulfillment.services.packstation.scanning import (  # noqa: F401
    packstation_missing,
    packstation_open,
    packstation_scan,
    packstation_short_undo,
    packstation_state,
    scan_matches,
    scan_parse,
    short_to_undo,
)
from fulfillment.services.packstation.station import (  # noqa: F401
    ScanOutcome,
    check_station,
    item_like,
    pack_state,
    packers_today,
    shipment_find,
    station_options,
)
