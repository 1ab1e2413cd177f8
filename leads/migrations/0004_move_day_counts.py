from django.db import migrations

# The triggers that kept this table, as an earlier version installed them: dropped before the
# table. Their successors are declared once in askhandle/api/fast_lists (PostgreSQL only).
DROP = {
    "postgresql": ["DROP FUNCTION IF EXISTS leads_leaddaycount_track() CASCADE;"],
    "sqlite": ["DROP TRIGGER IF EXISTS leads_leaddaycount_insert;", "DROP TRIGGER IF EXISTS leads_leaddaycount_delete;", "DROP TRIGGER IF EXISTS leads_leaddaycount_update;"],
}


def drop_triggers(apps, schema_editor):
    for statement in DROP.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("leads", "0003_lead_chat_key")]

    operations = [
        migrations.RunPython(drop_triggers, migrations.RunPython.noop, elidable=False),
        migrations.DeleteModel(name="LeadDayCount"),
    ]
