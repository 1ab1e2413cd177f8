from django.db import migrations, models

from askhandle.api import page_cache


def install(apps, schema_editor):
    for statement in page_cache.install_sql(schema_editor.connection.vendor):
        schema_editor.execute(statement)


def uninstall(apps, schema_editor):
    for statement in page_cache.uninstall_sql(schema_editor.connection.vendor):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    # The triggers go on the tables the lists render (page_cache.VERSIONED_TABLES).
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
        migrations.RunPython(install, uninstall, elidable=False),
    ]
