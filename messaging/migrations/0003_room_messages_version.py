from django.db import migrations, models

from messaging import room_messages


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in room_messages.install_sql(vendor) + room_messages.renew_all_sql(vendor):
        schema_editor.execute(statement)


def uninstall(apps, schema_editor):
    for statement in room_messages.uninstall_sql(schema_editor.connection.vendor):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    # The triggers go on messaging_message and rooms_room (messaging/room_messages.py).
    dependencies = [
        ("messaging", "0002_message_day_counts"),
        ("rooms", "0003_room_lead"),
    ]

    operations = [
        migrations.CreateModel(
            name="RoomMessagesVersion",
            fields=[
                ("room_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("token", models.BigIntegerField()),
            ],
            options={"verbose_name": "room messages version"},
        ),
        migrations.RunPython(install, uninstall, elidable=False),
    ]
