from django.db import migrations, models

class Migration(migrations.Migration):
    # Its triggers were installed here once; they and the table moved to askhandle.api.fast_lists
    # (messaging 0004), and migrations import no live module.
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
    ]
