import django_fsm
from django.db import migrations


def confirmed_lists_picked(apps, schema_editor):
    """Lists confirmed by scan before this state existed read Picked."""
    PickList = apps.get_model("fulfillment", "PickList")
    PickScan = apps.get_model("fulfillment", "PickScan")
    confirmed = PickScan.objects.filter(kind="confirm").values("pick_list_id")
    PickList.objects.filter(status__in=["open", "picking"], pk__in=confirmed).update(
        status="picked"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("fulfillment", "0022_packscan_unshort"),
    ]

    operations = [
        migrations.AlterField(
            model_name="picklist",
            name="status",
            field=django_fsm.FSMField(
                choices=[
                    ("open", "Open"),
                    ("picking", "Picking"),
                    ("picked", "Picked"),
                    ("done", "Done"),
                ],
                default="open",
                max_length=10,
                protected=True,
            ),
        ),
        migrations.RunPython(confirmed_lists_picked, migrations.RunPython.noop),
    ]
