"""The order API's endpoints: thin, over the inbox and the apps' services."""

import hashlib
import json

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework.exceptions import NotFound, ParseError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from connections.api.auth import (
    ApiKeyAuthentication,
    ApiKeyRateThrottle,
    HasChannelKey,
)
from connections.api.intake import (
    ApiCheck,
    inbound_api_check,
    inbound_api_take,
    inbound_api_waiting,
    inbound_order_failed,
)
from connections.api.selectors import order_detail, order_failed_detail, stock_by_sku
from connections.api.serializers import (
    CancelIn,
    ErrorOut,
    OrderFailedOut,
    OrderIn,
    OrderOut,
    StockListOut,
)
from connections.inbox.processing import inbound_process
from connections.inbox.storing import inbound_store
from connections.models import InboundMessage
from orders.exceptions import OrderError
from orders.models import Order
from orders.services.lifecycle import order_cancel

Status = InboundMessage.Status
IDEMPOTENCY_KEY_MAX = InboundMessage._meta.get_field("idempotency_key").max_length
MAX_SKUS = 100


class ChannelApiView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasChannelKey]
    throttle_classes = [ApiKeyRateThrottle]

    def channel(self, request: Request):
        return request.auth.channel

    def order_or_404(self, request: Request, external_id: str) -> Order:
        return get_object_or_404(
            Order.objects.select_related("channel"),
            channel=self.channel(request),
            external_id=external_id,
        )

    def order_or_none(self, request: Request, external_id: str) -> Order | None:
        return (
            Order.objects.select_related("channel")
            .filter(channel=self.channel(request), external_id=external_id)
            .first()
        )


def not_an_object(data) -> str:
    """Return what a client is told when its body is JSON but not an object."""
    return _(
        "The body must be a JSON object (one order); it is a JSON %(kind)s. "
        "Send one order per request."
    ) % {"kind": type(data).__name__}


def _error(detail: str, code: int, errors: list | None = None) -> Response:
    body = {"detail": detail}
    if errors is not None:
        body["errors"] = errors
    return Response(body, status=code)


class OrderCreateView(ChannelApiView):
    @extend_schema(
        operation_id="order_create",
        summary="Send an order",
        request=OrderIn,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Any unique string (a UUID). The same key with the "
                "same body gives the same answer again; with another body, 422.",
            )
        ],
        responses={
            201: OrderOut,
            200: OrderOut,
            400: ErrorOut,
            401: ErrorOut,
            409: ErrorOut,
            422: ErrorOut,
            429: ErrorOut,
        },
    )
    def post(self, request: Request) -> Response:
        """Create an order (201), or return the one already made for this
        `external_id` (200)."""
        raw = request._request.body  # before DRF reads the stream
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable():
            return _error(
                f"The Idempotency-Key must be printable and at most "
                f"{IDEMPOTENCY_KEY_MAX} characters.",
                400,
            )
        body_hash = hashlib.sha256(raw).hexdigest()
        channel = self.channel(request)
        if key:
            earlier = InboundMessage.objects.filter(
                channel=channel, idempotency_key=key
            ).first()
            if earlier is not None:
                return self._again(earlier, body_hash)
        try:
            data = request.data
        except ParseError as error:
            return _error(str(error.detail), 400)  # it says what is wrong
        if not isinstance(data, dict):
            return _error(not_an_object(data), 400)
        # Checked as the worker will take it in, without a transaction; a new
        # order is answered as taken in (its number reserved, pending) and
        # stored with its answer in one statement. The worker writes the
        # waiting orders in batches and reserves their stock.
        check = inbound_api_check(channel=channel, body=data)
        code, body = self._answer(check)
        message, new = inbound_api_take(
            channel=channel,
            body=raw,
            check=check,
            response_status=code,
            response=body,
            idempotency_key=key,
            body_hash=body_hash,
        )
        if not new:
            if key and message.idempotency_key == key:
                return self._again(message, body_hash)  # sent twice at once
            code, body = self._earlier_answer(message)
            return Response(body, status=code)
        return Response(body, status=code)

    def _answer(self, check: ApiCheck) -> tuple[int, dict]:
        if check.draft is not None:
            return 201, order_detail(order=check.draft, lines=check.lines, new=True)
        if check.existing is not None:
            return 200, order_detail(order=check.existing)
        if check.earlier is not None:
            return self._earlier_answer(check.earlier)
        return 422, {
            "detail": "The order was not taken; correct the fields named.",
            "errors": [problem.as_dict() for problem in check.problems],
        }

    def _again(self, earlier: InboundMessage, body_hash: str) -> Response:
        if earlier.body_hash != body_hash:
            return _error(
                "This Idempotency-Key was used with another body; use a new key "
                "for a new request.",
                422,
            )
        if earlier.response_status is None:
            return _error(
                "A request with this Idempotency-Key is still being processed; "
                "try again in a moment.",
                409,
            )
        return Response(earlier.response, status=earlier.response_status)

    def _earlier_answer(self, earlier: InboundMessage) -> tuple[int, dict]:
        """The answer to a second request for an order an earlier message
        took in: 200 with the order (as taken in, while it waits for the
        worker)."""
        if earlier.status == Status.RECEIVED and earlier.response is not None:
            return 200, earlier.response
        if earlier.order_id is not None:
            order = Order.objects.get(pk=earlier.order_id)
            return 200, order_detail(order=order)
        return 422, {"detail": earlier.error or "The order was not taken."}


class OrderDetailView(ChannelApiView):
    @extend_schema(
        operation_id="order_get",
        summary="An order's status, lines and shipments",
        description="An order taken in that could not be written is answered "
        "with status `failed` and the reason.",
        responses={
            200: PolymorphicProxySerializer(
                component_name="OrderOrFailed",
                serializers=[OrderOut, OrderFailedOut],
                resource_type_field_name=None,
            ),
            401: ErrorOut,
            404: ErrorOut,
        },
    )
    def get(self, request: Request, external_id: str) -> Response:
        order = self.order_or_none(request, external_id)
        if order is not None:
            return Response(order_detail(order=order))
        # Taken in, and not written by the worker yet: as it was answered.
        channel = self.channel(request)
        waiting = inbound_api_waiting(channel=channel, external_id=external_id)
        if waiting is not None:
            return Response(waiting.response)
        failed = inbound_order_failed(channel=channel, external_id=external_id)
        if failed is None:
            raise NotFound("No order with this external_id.")
        return Response(order_failed_detail(message=failed, external_id=external_id))


class OrderCancelView(ChannelApiView):
    @extend_schema(
        operation_id="order_cancel",
        summary="Cancel an order",
        request=CancelIn,
        responses={200: OrderOut, 401: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    )
    def post(self, request: Request, external_id: str) -> Response:
        """Cancel the order where its state allows it, else 409 with the reason."""
        order = self.order_or_none(request, external_id)
        if order is None:
            # Taken in, not written by the worker yet: written now (under the
            # message's lock, as the worker would), then cancelled.
            waiting = inbound_api_waiting(
                channel=self.channel(request), external_id=external_id
            )
            if waiting is not None:
                inbound_process(message_id=waiting.pk)
            order = self.order_or_404(request, external_id)
        data = request.data if isinstance(request.data, dict) else {}
        reason = data.get("reason") if isinstance(data.get("reason"), str) else ""
        reason = (reason or "cancelled through the API").strip()[:200]
        message, _ = inbound_store(
            channel=order.channel,
            source=InboundMessage.Source.API,
            topic="orders/cancel",
            body=json.dumps({"external_id": external_id, "reason": reason}).encode(),
            external_id=external_id,
            process=False,
        )
        try:
            with transaction.atomic():
                order = order_cancel(order=order, actor=None, reason=reason)
        except OrderError as refusal:
            outcome, code, body = Status.FAILED, 409, {"detail": str(refusal)}
        else:
            order = Order.objects.select_related("channel").get(pk=order.pk)
            outcome, code, body = Status.PROCESSED, 200, order_detail(order=order)
        InboundMessage.objects.filter(pk=message.pk).update(
            status=outcome,
            error=body["detail"] if code == 409 else "",
            order=order,
            processed_at=timezone.now(),
            response_status=code,
            response=body,
        )
        return Response(body, status=code)


class StockView(ChannelApiView):
    @extend_schema(
        operation_id="stock_get",
        summary="Available stock per SKU and per location",
        parameters=[
            OpenApiParameter(
                "sku",
                str,
                many=True,
                required=True,
                description="One or more SKUs (repeat the parameter, or separate "
                f"with commas; at most {MAX_SKUS}).",
            )
        ],
        responses={200: StockListOut, 400: ErrorOut, 401: ErrorOut},
    )
    def get(self, request: Request) -> Response:
        skus: list[str] = []
        for value in request.query_params.getlist("sku"):
            for sku in value.split(","):
                sku = sku.strip()
                if sku and "\x00" not in sku and sku not in skus:
                    skus.append(sku)
        if not skus:
            return _error(
                "Name at least one SKU: ?sku=…",
                400,
                [{"field": "sku", "message": "is required."}],
            )
        if len(skus) > MAX_SKUS:
            return _error(f"At most {MAX_SKUS} SKUs per request.", 400)
        results, unknown = stock_by_sku(skus=skus)
        return Response({"results": results, "unknown_skus": unknown})
