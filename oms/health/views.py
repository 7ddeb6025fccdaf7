"""The load balancer's endpoints: `/health/live` and `/health/ready`."""

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from oms.health.checks import FAIL, readiness

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """200 while the process answers; reads nothing (no database)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Every check with its status and figure: 200 when ready (warnings
    included), 503 when the database does not answer or a hard threshold is
    crossed (oms.health.checks)."""
    state = readiness()
    if state["status"] != FAIL:
        return JsonResponse(state)
    failing = [
        name for name, check in state["checks"].items() if check["status"] == FAIL
    ]
    logger.warning("Not ready: %s", ", ".join(failing), extra={"failing": failing})
    response = JsonResponse(state, status=503)
    # Said above, once, as a warning: not Django's error line per probe.
    response._has_been_logged = True
    return response
