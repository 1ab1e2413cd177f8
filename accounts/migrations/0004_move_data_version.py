from django.db import migrations

# The triggers that kept this table, as an earlier version installed them: dropped before the
# table. Their successors are declared once in askhandle/api/fast_lists (PostgreSQL only).
DROP = {
    "postgresql": ["DROP FUNCTION IF EXISTS accounts_data_version_bump() CASCADE;"],
    "sqlite": ["DROP TRIGGER IF EXISTS messaging_message_accounts_data_version_insert;", "DROP TRIGGER IF EXISTS messaging_message_accounts_data_version_delete;", "DROP TRIGGER IF EXISTS messaging_message_accounts_data_version_update;", "DROP TRIGGER IF EXISTS rooms_room_accounts_data_version_insert;", "DROP TRIGGER IF EXISTS rooms_room_accounts_data_version_delete;", "DROP TRIGGER IF EXISTS rooms_room_accounts_data_version_update;", "DROP TRIGGER IF EXISTS leads_lead_accounts_data_version_insert;", "DROP TRIGGER IF EXISTS leads_lead_accounts_data_version_delete;", "DROP TRIGGER IF EXISTS leads_lead_accounts_data_version_update;"],
}


def drop_triggers(apps, schema_editor):
    for statement in DROP.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_data_version")]

    operations = [
        migrations.RunPython(drop_triggers, migrations.RunPython.noop, elidable=False),
        migrations.DeleteModel(name="DataVersion"),
    ]
