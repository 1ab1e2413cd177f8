from django.db import migrations

# The full-text index as this migration made it, written out here rather than imported: a
# migration must do the same thing forever, whatever becomes of knowledge/search_index.py (which
# keeps the index whole after every migrate, see KnowledgeConfig.ready()).

TABLE = "knowledge_knowledgeentry"

POSTGRES_VECTOR = (
    "setweight(to_tsvector('english', coalesce({row}.question, '')), 'A')"
    " || setweight(to_tsvector('english', coalesce({row}.tags, '')), 'B')"
    " || setweight(to_tsvector('english', coalesce({row}.answer, '')), 'C')"
)

POSTGRES_SQL = [
    f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS search_vector tsvector",
    f"""
    CREATE OR REPLACE FUNCTION knowledge_search_vector_update() RETURNS trigger AS $$
    BEGIN
      NEW.search_vector := {POSTGRES_VECTOR.format(row="NEW")};
      RETURN NEW;
    END
    $$ LANGUAGE plpgsql
    """,
    f"DROP TRIGGER IF EXISTS knowledge_search_vector ON {TABLE}",
    f"""
    CREATE TRIGGER knowledge_search_vector BEFORE INSERT OR UPDATE OF question, tags, answer
    ON {TABLE} FOR EACH ROW EXECUTE FUNCTION knowledge_search_vector_update()
    """,
    f"CREATE INDEX IF NOT EXISTS knowledge_search_gin ON {TABLE} USING GIN (search_vector)",
    f"UPDATE {TABLE} SET search_vector = {POSTGRES_VECTOR.format(row=TABLE)}"
    " WHERE search_vector IS NULL",
]

POSTGRES_DROP = [
    f"DROP TRIGGER IF EXISTS knowledge_search_vector ON {TABLE}",
    "DROP FUNCTION IF EXISTS knowledge_search_vector_update()",
    "DROP INDEX IF EXISTS knowledge_search_gin",
    f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS search_vector",
]

SQLITE_COLUMNS = "question, tags, answer, account_key"
SQLITE_VALUES = "{row}.question, {row}.tags, {row}.answer, 'a' || {row}.account_id"
SQLITE_TRIGGERS = {
    "knowledge_fts_insert": f"""
        CREATE TRIGGER knowledge_fts_insert AFTER INSERT ON {TABLE} BEGIN
          INSERT INTO knowledge_fts (rowid, {SQLITE_COLUMNS})
          VALUES (new.id, {SQLITE_VALUES.format(row="new")});
        END""",
    "knowledge_fts_update": f"""
        CREATE TRIGGER knowledge_fts_update AFTER UPDATE ON {TABLE} BEGIN
          DELETE FROM knowledge_fts WHERE rowid = old.id;
          INSERT INTO knowledge_fts (rowid, {SQLITE_COLUMNS})
          VALUES (new.id, {SQLITE_VALUES.format(row="new")});
        END""",
    "knowledge_fts_delete": f"""
        CREATE TRIGGER knowledge_fts_delete AFTER DELETE ON {TABLE} BEGIN
          DELETE FROM knowledge_fts WHERE rowid = old.id;
        END""",
}
SQLITE_CREATE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS knowledge_fts USING fts5({SQLITE_COLUMNS},"
    " tokenize = 'porter unicode61 remove_diacritics 2')"
)
SQLITE_REBUILD = [
    "DELETE FROM knowledge_fts",
    f"INSERT INTO knowledge_fts (rowid, {SQLITE_COLUMNS})"
    f" SELECT id, {SQLITE_VALUES.format(row=TABLE)} FROM {TABLE}",
]


def sqlite_has_fts5(connection) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_compileoption_used('ENABLE_FTS5')")
        if cursor.fetchone()[0]:
            return True
        try:
            cursor.execute("CREATE VIRTUAL TABLE temp.knowledge_fts_probe USING fts5(x)")
        except Exception:
            return False
        cursor.execute("DROP TABLE temp.knowledge_fts_probe")
        return True


def index_ensure(connection) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM pg_trigger WHERE tgname = 'knowledge_search_vector'"
                " AND tgrelid = %s::regclass",
                [TABLE],
            )
            if cursor.fetchone() is None:
                for sql in POSTGRES_SQL:
                    cursor.execute(sql)
    elif connection.vendor == "sqlite":
        if not sqlite_has_fts5(connection):
            return  # knowledge.search falls back to ranking in Python
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                [TABLE],
            )
            present = {row[0] for row in cursor.fetchall()}
            if present >= set(SQLITE_TRIGGERS):
                return
            cursor.execute(SQLITE_CREATE)
            for name, sql in SQLITE_TRIGGERS.items():
                if name not in present:
                    cursor.execute(sql)
            for sql in SQLITE_REBUILD:
                cursor.execute(sql)


def index_drop(connection) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for sql in POSTGRES_DROP:
                cursor.execute(sql)
        elif connection.vendor == "sqlite":
            for name in SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            cursor.execute("DROP TABLE IF EXISTS knowledge_fts")


def create(apps, schema_editor):
    index_ensure(schema_editor.connection)


def drop(apps, schema_editor):
    index_drop(schema_editor.connection)


class Migration(migrations.Migration):
    """The full-text index, kept by the database (see knowledge/search_index.py)."""

    dependencies = [("knowledge", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
