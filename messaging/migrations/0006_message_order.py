from django.db import migrations

# A room's messages take their ids one at a time, in the order of their commits, which `?after=`
# relies on (messaging.filters): a reader at id 11 must never see an id 10 committed after it.
# SQLite has one writer at a time: they do. On PostgreSQL this trigger locks the message's room
# row as the insert's first act and only then gives the row its id, so two transactions adding
# messages to one room take ids one after the other, from the insert to the commit (other rooms,
# and other accounts, are not held). It replaces a `SELECT ... FOR UPDATE` sent by
# messaging.services.message_create before each insert: the lock is now taken inside the insert,
# without a round trip of its own, and whoever inserts (the API, the admin, raw SQL) takes it.
#
# FOR NO KEY UPDATE: it excludes another message insert's lock on the same room, but not the
# key-share locks that rows referring to the room take for their foreign key check.
#
# The id: the column's default took a number before the lock; the trigger takes a new one after
# it. A row inserted with an id of its own (loaddata, a restore) keeps it: its id is not the one
# the default just took in this session (currval, which is not set at all in a session whose
# inserts all gave ids of their own).
POSTGRESQL_FORWARD = [
    """CREATE FUNCTION askhandle_message_order() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        sequence text := pg_get_serial_sequence('messaging_message', 'id');
        taken bigint;
    BEGIN
        PERFORM 1 FROM rooms_room WHERE id = NEW.room_id FOR NO KEY UPDATE;
        BEGIN
            taken := currval(sequence);
        EXCEPTION WHEN object_not_in_prerequisite_state THEN
            taken := NULL;
        END;
        IF NEW.id = taken THEN
            NEW.id := nextval(sequence);
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER message_order BEFORE INSERT ON messaging_message
    FOR EACH ROW EXECUTE FUNCTION askhandle_message_order()""",
]
POSTGRESQL_BACKWARD = [
    "DROP TRIGGER message_order ON messaging_message",
    "DROP FUNCTION askhandle_message_order()",
]


def postgresql(statements):
    def operation(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return operation


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0005_message_answer_sources"),
        ("rooms", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(
            postgresql(POSTGRESQL_FORWARD), postgresql(POSTGRESQL_BACKWARD), elidable=False
        ),
    ]
