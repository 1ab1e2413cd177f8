from django.db import migrations

# The triggers that kept this table, as an earlier version installed them: dropped before the
# table. Their successors are declared once in askhandle/api/fast_lists (PostgreSQL only).
DROP = {
    "postgresql": ["DROP FUNCTION IF EXISTS messaging_messagedaycount_track() CASCADE;", "DROP FUNCTION IF EXISTS messaging_room_messages_bump() CASCADE;", "DROP FUNCTION IF EXISTS messaging_room_messages_room() CASCADE;"],
    "sqlite": ["DROP TRIGGER IF EXISTS messaging_messagedaycount_insert;", "DROP TRIGGER IF EXISTS messaging_messagedaycount_delete;", "DROP TRIGGER IF EXISTS messaging_messagedaycount_update;", "DROP TRIGGER IF EXISTS messaging_room_messages_insert;", "DROP TRIGGER IF EXISTS messaging_room_messages_delete;", "DROP TRIGGER IF EXISTS messaging_room_messages_update;", "DROP TRIGGER IF EXISTS messaging_room_messages_room_insert;", "DROP TRIGGER IF EXISTS messaging_room_messages_room_delete;"],
}


def drop_triggers(apps, schema_editor):
    for statement in DROP.get(schema_editor.connection.vendor, []):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("messaging", "0003_room_messages_version")]

    operations = [
        migrations.RunPython(drop_triggers, migrations.RunPython.noop, elidable=False),
        migrations.DeleteModel(name="MessageDayCount"),
        migrations.DeleteModel(name="RoomMessagesVersion"),
    ]
