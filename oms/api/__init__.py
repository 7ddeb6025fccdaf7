"""The order API (`/api/v1/`): Django REST framework views over the apps'
services, described by drf-spectacular (`/api/v1/openapi.json`).

It lives in `oms` because an order's answer spans the layers (orders, their
shipments from fulfillment, stock from inventory); the intake itself (the
inbox, the shared validator) is `orders.intake`.
"""
