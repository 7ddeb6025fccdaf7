"""The orders app's models, by subject; every model is importable from here."""

from orders.models.channels import (  # noqa: F401
    Channel,
    FinancialStatus,
)
from orders.models.events import (  # noqa: F401
    OrderEvent,
)
from orders.models.lines import (  # noqa: F401
    OrderLine,
)
from orders.models.orders import (  # noqa: F401
    CANCELLABLE,
    EDITABLE,
    HOLDABLE,
    Customer,
    HoldReason,
    Order,
    OrderStatus,
    RatePreference,
)
from orders.models.records import (  # noqa: F401
    EmailKind,
    ImportJob,
)
from orders.models.requests import (  # noqa: F401
    CustomerRequest,
)
from orders.models.rules import (  # noqa: F401
    OrderTag,
    OrderTagging,
    Rule,
    RuleAction,
    RuleCondition,
)
