"""Row locks for returns and refunds."""

from returns.models import Refund, ReturnRequest


def lock_return(pk: int) -> ReturnRequest:
    """Lock one return for the rest of the transaction and return it fresh."""
    return (
        ReturnRequest.objects.select_for_update(of=("self",))
        .select_related("order__channel", "order__customer")
        .get(pk=pk)
    )


def lock_refund(pk: int) -> Refund:
    """Lock one refund for the rest of the transaction and return it fresh."""
    return (
        Refund.objects.select_for_update(of=("self",))
        .select_related("order__channel", "order__customer", "return_request")
        .get(pk=pk)
    )
