from django.db import migrations


def create(apps, schema_editor):
    from knowledge.search_index import search_index_ensure

    search_index_ensure(schema_editor.connection)


def drop(apps, schema_editor):
    from knowledge.search_index import search_index_drop

    search_index_drop(schema_editor.connection)


class Migration(migrations.Migration):
    """The full-text index, kept by the database (see knowledge/search_index.py)."""

    dependencies = [("knowledge", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
