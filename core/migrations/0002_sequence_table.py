from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0001_initial"),
        ("oms", "0002_sequence_moved_to_core"),
    ]

    operations = [
        migrations.AlterModelTable(name="sequence", table=None),
    ]
