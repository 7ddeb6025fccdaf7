"""The order API (`/api/v1/`): Django REST framework views over the apps'
services, described by drf-spectacular (`/api/v1/openapi.json`).

An order's answer spans the layers below (orders, their shipments from
fulfillment, stock from inventory); an order sent is checked here
(`intake`) and taken in by the inbox (`connections.inbox`).
"""
