"""The three roles of the back office as Django groups, and their permissions."""

from django.contrib.auth.models import Group, Permission

WAREHOUSE = "Warehouse"
CUSTOMER_SERVICE = "Customer service"
MANAGER = "Manager"

_VIEW_ALL = [
    "inventory.view_product",
    "inventory.view_location",
    "inventory.view_stocklevel",
    "inventory.view_stockmovement",
    "inventory.view_allocation",
    "orders.view_channel",
    "orders.view_customer",
    "orders.view_order",
    "orders.view_orderline",
    "orders.view_orderevent",
    "connections.view_inboundmessage",
    "fulfillment.view_carrier",
    "fulfillment.view_picklist",
    "fulfillment.view_pickwave",
    "fulfillment.view_shipment",
    "fulfillment.view_shipmentline",
    "fulfillment.view_trackingevent",
    "fulfillment.view_documentprint",
    "fulfillment.view_webhookdelivery",
    "connections.view_outboundmessage",
    "connections.view_outboundattempt",
    "connections.view_channellisting",
    # Postage: each shipment's rates and label, end-of-day forms, return labels.
    "fulfillment.view_shipmentpostage",
    "fulfillment.view_scanform",
    "fulfillment.view_returnlabel",
    "returns.view_returnrequest",
    "returns.view_returnline",
    "returns.view_refund",
    "returns.view_refundline",
]
# Pick, pack, ship and print: the warehouse's work, and the manager's.
_FULFIL = [
    "fulfillment.fulfil_shipment",
    "fulfillment.print_documents",
    "fulfillment.view_printjob",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    WAREHOUSE: [
        *_VIEW_ALL,
        "inventory.change_stocklevel",
        "orders.fulfil_order",
        *_FULFIL,
        "returns.receive_return",
    ],
    CUSTOMER_SERVICE: [
        *_VIEW_ALL,
        "orders.add_customer",
        "orders.change_customer",
        "orders.add_order",
        "orders.change_order",
        "orders.allocate_order",
        "orders.hold_order",
        "orders.cancel_order",
        # The queue of requests customers send from their order page.
        "orders.view_customerrequest",
        "orders.change_customerrequest",
        # Open, approve or reject returns; propose refunds, exchange, close.
        "returns.add_returnrequest",
        "returns.approve_return",
        "returns.resolve_return",
        "returns.add_refund",
    ],
    MANAGER: [
        *_VIEW_ALL,
        "inventory.add_product",
        "inventory.change_product",
        "inventory.add_location",
        "inventory.change_location",
        "inventory.add_stocklevel",
        "inventory.change_stocklevel",
        "orders.add_channel",
        "orders.change_channel",
        "orders.add_customer",
        "orders.change_customer",
        "orders.add_order",
        "orders.change_order",
        "orders.allocate_order",
        "orders.fulfil_order",
        "orders.hold_order",
        "orders.cancel_order",
        "orders.view_customerrequest",
        "orders.change_customerrequest",
        *_FULFIL,
        "fulfillment.add_carrier",
        "fulfillment.change_carrier",
        # Postage set-up: EasyPost accounts, locations' settings and boxes,
        # channels' return labels.
        *(
            f"fulfillment.{verb}_{model}"
            for model in ("carrieraccount", "locationpostage", "box", "channelpostage")
            for verb in ("view", "add", "change")
        ),
        "connections.replay_outboundmessage",
        "connections.add_channellisting",
        "connections.change_channellisting",
        "connections.delete_channellisting",
        "orders.import_orders",
        "orders.view_importjob",
        "orders.export_order",
        "connections.replay_inboundmessage",
        "connections.view_channelapikey",
        "connections.add_channelapikey",
        "connections.change_channelapikey",
        "returns.add_returnrequest",
        "returns.approve_return",
        "returns.receive_return",
        "returns.resolve_return",
        "returns.add_refund",
        "returns.approve_refund",
        "returns.view_return_report",
        # Orders › Rules: automation managers write.
        *(
            f"orders.{verb}_{model}"
            for model in ("rule", "rulecondition", "ruleaction", "ordertag")
            for verb in ("view", "add", "change", "delete")
        ),
    ],
}


def roles_setup() -> dict[str, Group]:
    """Create or update the role groups so they hold exactly their permissions."""
    groups = {}
    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = []
        for code in codes:
            app_label, codename = code.split(".")
            wanted.append(
                Permission.objects.get(
                    content_type__app_label=app_label, codename=codename
                )
            )
        group.permissions.set(wanted)
        groups[role] = group
    return groups
