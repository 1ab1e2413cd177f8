"""askhandle.db.postgresql: the per-request health check without a round trip."""

import time

import pytest
from django.db import connection

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend")


@pytest.fixture
def other():
    """A second connection, outside the test's transaction."""
    wrapper = connection.copy()
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def test_an_idle_connection_is_usable_without_a_query(other, monkeypatch):
    def no_query(self):
        raise AssertionError("sent SELECT 1")

    monkeypatch.setattr(type(other).__mro__[1], "is_usable", no_query)
    assert other.is_usable() is True


def test_a_connection_the_server_ended_is_not_usable_and_is_replaced(other, db):
    pid = other.connection.info.backend_pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    # The server's goodbye reaches the socket soon, but not at a fixed time on a busy machine.
    deadline = time.monotonic() + 10
    while other.is_usable() and time.monotonic() < deadline:
        time.sleep(0.05)

    assert other.is_usable() is False

    # What Django does before a request's first query with CONN_HEALTH_CHECKS.
    other.health_check_enabled, other.health_check_done = True, False
    other.close_if_health_check_failed()
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
