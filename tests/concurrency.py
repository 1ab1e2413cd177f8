"""Threads with their own database connections, for the tests of concurrent writers."""

import threading

from django.db import connection


def _closing(errors, function, *args):
    try:
        function(*args)
    except Exception as error:
        errors.append(error)
    finally:
        connection.close()  # each thread has its own connection


def writes_under_reads(write, read, *, writers=3, readers=3) -> list[Exception]:
    """`write(n)` in `writers` threads while `readers` threads call `read()` until the writers are
    done. Returns what any of them raised."""
    errors, stop = [], threading.Event()

    def reading():
        while not stop.is_set():
            read()

    reading_threads = [
        threading.Thread(target=_closing, args=(errors, reading)) for _ in range(readers)
    ]
    writing_threads = [
        threading.Thread(target=_closing, args=(errors, write, n)) for n in range(writers)
    ]
    for thread in reading_threads + writing_threads:
        thread.start()
    for thread in writing_threads:
        thread.join()
    stop.set()
    for thread in reading_threads:
        thread.join()
    return errors


def dsn() -> str:
    """The test database's connection string, for a psycopg connection of its own (a transaction
    the test holds open or commits by hand)."""
    import psycopg

    params = connection.get_connection_params()
    return psycopg.conninfo.make_conninfo(
        dbname=params["dbname"], user=params.get("user"), host=params.get("host"),
        port=params.get("port"), password=params.get("password"),
    )  # fmt: skip


def in_another_connection(function):
    """What `function()` returns when run on a connection of its own (another transaction)."""
    results, errors = [], []
    thread = threading.Thread(target=_closing, args=(errors, lambda: results.append(function())))
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return results[0]
