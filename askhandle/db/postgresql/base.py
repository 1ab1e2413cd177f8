"""Django's PostgreSQL backend with a health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django checks a reused connection before a request's first query by
sending `SELECT 1`: a round trip on every request, more than a cached list page costs
(docs/performance.md). An idle connection has nothing to read, and a server that ends it
(restart, failover, `idle_session_timeout`, `pg_terminate_backend`) sends its error and closes the
socket, which makes the socket readable. So: nothing to read means usable; anything to read gets
Django's `SELECT 1` (which then fails and the connection is replaced, as before).
"""

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        if self.connection is None or self.connection.closed:
            return False
        try:
            readable, _, _ = select.select([self.connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable or super().is_usable()
