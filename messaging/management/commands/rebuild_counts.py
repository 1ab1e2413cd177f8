from django.core.management.base import BaseCommand
from django.db import connection, transaction

from askhandle.api import page_cache
from leads.models import LEAD_COUNTS
from messaging import room_messages
from messaging.models import MESSAGE_COUNTS
from rooms.models import ROOM_COUNTS


class Command(BaseCommand):
    help = (
        "Recompute the day counters behind exact list counts from the rows. Only needed after "
        "rows were written with triggers disabled (pg_restore --disable-triggers, bulk loads), "
        "and give every account and room a new data version (cached list pages and messages)."
    )

    def handle(self, *args, **options):
        with transaction.atomic(), connection.cursor() as cursor:
            for counted in (MESSAGE_COUNTS, ROOM_COUNTS, LEAD_COUNTS):
                if connection.vendor == "postgresql":
                    # No writer may slip in between the recount and the commit.
                    cursor.execute(f"LOCK TABLE {counted.table} IN SHARE MODE")
                for statement in counted.rebuild_sql(connection.vendor):
                    cursor.execute(statement)
                self.stdout.write(f"Rebuilt {counted.counts}.")
            # Pages cached by running servers may predate the rows loaded: new tokens for all.
            for statement in page_cache.renew_all_sql(connection.vendor):
                cursor.execute(statement)
            self.stdout.write(f"Renewed {page_cache.VERSION_TABLE}.")
            # The same for each room's rendered messages (rooms loaded without a version too).
            for statement in room_messages.renew_all_sql(connection.vendor):
                cursor.execute(statement)
            self.stdout.write(f"Renewed {room_messages.VERSION_TABLE}.")
