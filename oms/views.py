"""Operational endpoints."""

from django.db import connection
from django.db.utils import Error as DatabaseError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the database answers, 503 otherwise (for load balancers)."""
    try:
        connection.ensure_connection()
    except DatabaseError as error:
        return JsonResponse(
            {"status": "error", "database": type(error).__name__}, status=503
        )
    # A connection kept from an earlier request may have died since: ask the
    # server (Django sends its own `SELECT 1`).
    if not connection.is_usable():
        connection.close()
        return JsonResponse(
            {"status": "error", "database": "connection not usable"}, status=503
        )
    return JsonResponse({"status": "ok", "database": "ok"})
