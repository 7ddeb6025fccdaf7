"""The fulfillment app's models, by subject; every model is importable from here."""

from fulfillment.models.documents import (  # noqa: F401
    DocumentKind,
    DocumentPrint,
    PrintJob,
)
from fulfillment.models.packstation import PackClaim, PackScan  # noqa: F401
from fulfillment.models.pickconfirm import PickScan  # noqa: F401
from fulfillment.models.postage import (  # noqa: F401
    Box,
    CarrierAccount,
    ChannelPostage,
    LabelFileFormat,
    LabelFormat,
    LocationPostage,
    RateChoice,
    ReturnLabel,
    ScanForm,
    ShipmentPostage,
)
from fulfillment.models.shipments import (  # noqa: F401
    DISPATCHED_STATUSES,
    ON_THE_WAY_STATUSES,
    OPEN_STATUSES,
    Carrier,
    ExceptionReason,
    PickList,
    Shipment,
    ShipmentLine,
    ShipmentStatus,
)
from fulfillment.models.tracking import (  # noqa: F401
    TrackingEvent,
    WebhookDelivery,
)
from fulfillment.models.waves import PickWave  # noqa: F401
