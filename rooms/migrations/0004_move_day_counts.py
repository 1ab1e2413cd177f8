from django.db import migrations

# The triggers that kept this table, as an earlier version installed them: dropped before the
# table. Their successors are declared once in askhandle/api/fast_lists (PostgreSQL only).
DROP = {
    "postgresql": ["DROP FUNCTION IF EXISTS rooms_roomdaycount_track() CASCADE;"],
    "sqlite": ["DROP TRIGGER IF EXISTS rooms_roomdaycount_insert;", "DROP TRIGGER IF EXISTS rooms_roomdaycount_delete;", "DROP TRIGGER IF EXISTS rooms_roomdaycount_update;"],
}


def drop_triggers(apps, schema_editor):
    for statement in DROP.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("rooms", "0003_room_lead")]

    operations = [
        migrations.RunPython(drop_triggers, migrations.RunPython.noop, elidable=False),
        migrations.DeleteModel(name="RoomDayCount"),
    ]
