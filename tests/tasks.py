"""Django's Tasks in a test: the worker of `manage.py db_worker`, in this thread, until none is
left or after `max_tasks` (tasks due later stay queued)."""

from unittest import mock

from django_tasks_db.management.commands import db_worker


def run_tasks(max_tasks: int | None = None) -> None:
    # Inside a test's transaction the worker must not recycle the connection, as it does
    # between tasks in production (that would end the test's transaction).
    with mock.patch.object(db_worker, "close_old_connections", lambda: None):
        db_worker.Worker(
            queue_names=["default"], interval=0, batch=True, backend_name="default",
            startup_delay=False, max_tasks=max_tasks, worker_id="test", excluded_queue_names=[],
        ).run()  # fmt: skip
