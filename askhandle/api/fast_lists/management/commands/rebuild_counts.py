from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from askhandle.api.fast_lists import triggers


class Command(BaseCommand):
    help = (
        "Recompute the day counters behind exact list counts from the rows and give every "
        "account and group a new data version. Only needed after rows were written with "
        "triggers disabled (pg_restore --disable-triggers, bulk loads). PostgreSQL only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, database, **options):
        connection = connections[database]
        if not triggers.supported(connection):
            self.stdout.write("Nothing to rebuild: SQLite counts rows and caches nothing.")
            return
        with transaction.atomic(using=database):
            triggers.rebuild(connection)
        self.stdout.write("Rebuilt the day counters and renewed the data versions.")
