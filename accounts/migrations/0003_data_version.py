from django.db import migrations, models

class Migration(migrations.Migration):
    # Its triggers were installed here once; they and the table moved to askhandle.api.fast_lists
    # (accounts 0004), and migrations import no live module.
    dependencies = [
        ("accounts", "0002_cache_table"),
        ("messaging", "0002_message_day_counts"),
        ("rooms", "0003_room_lead"),
        ("leads", "0003_lead_chat_key"),
    ]

    operations = [
        migrations.CreateModel(
            name="DataVersion",
            fields=[
                ("account_id", models.BigIntegerField(primary_key=True, serialize=False)),
                ("token", models.BigIntegerField()),
            ],
            options={"verbose_name": "data version"},
        ),
    ]
