from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_search_index(sender, using, **kwargs):
    # Django alters a SQLite table by copying it into a new one, which drops its triggers; put
    # the index back after every migrate (a no-op when it is whole).
    from django.db import connections
    from django.db.migrations.recorder import MigrationRecorder

    connection = connections[using]
    recorder = MigrationRecorder(connection)
    if recorder.has_table() and ("knowledge", "0002_search_index") in recorder.applied_migrations():
        from .search_index import search_index_ensure

        search_index_ensure(connection)


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = "knowledge"

    def ready(self):
        post_migrate.connect(ensure_search_index, sender=self)
