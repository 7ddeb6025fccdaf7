from django.apps import AppConfig


class ReturnsConfig(AppConfig):
    name = "returns"
    verbose_name = "Returns"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from orders.emails import customer_email_attachments_register
        from orders.models import EmailKind
        from returns.documents import return_label_attachments

        # The "return approved" e-mail carries the return label (4 × 6 in PDF).
        customer_email_attachments_register(
            kind=EmailKind.RETURN_APPROVED,
            provider=return_label_attachments,
        )
