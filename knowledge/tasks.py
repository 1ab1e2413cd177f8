"""Entries' vectors, made in the background (Django's Tasks API; `manage.py db_worker` runs them).

One task per account at a time does the work: `knowledge_embeddings_make(account_id)` fills the
account's entries that have no vector yet (all of them, not only the ones written when it was
asked for), `BATCHES_PER_TASK` batches at most, then asks for a follow-up at the back of the queue
if some remain, so that one account's large knowledge base takes turns with the other accounts'
tasks instead of holding the worker.

How a vector is never lost:

- the services that write an entry ask for the task in the write's own transaction
  (`knowledge_embeddings_request`): with the database backend the task is a row committed with the
  entry, and a rolled-back write asks for nothing;
- a task already waiting (READY and due) for the account is reused, not doubled: the request
  locks its row until the write commits, so a worker cannot start it before the new entry is
  visible to it (PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED`, and the worker's claim skips
  locked rows too; SQLite: one writer at a time). Nobody waits for that lock: a request that
  finds the queued task locked by another write in progress (an import, a visitor's message)
  queues one of its own instead;
- a task that was lost (its worker killed mid-way leaves it RUNNING for ever; one that raised is
  FAILED) is made up for: the bot, answering the account's visitors, sees entries without a
  vector and asks again (at most once a minute per process: knowledge/semantic.py), and
  `manage.py embed_knowledge`, run before the worker starts (`./dev serve`, docker-compose's
  task-worker), asks for every account that has such entries.
"""

import logging

from django.db import transaction
from django_tasks import task

from . import embedding, semantic

logger = logging.getLogger(__name__)

# A task's share of the worker: at most this many batches of semantic.BATCH (about 3 s of
# encoding short entries), and no batch begun after TASK_SECONDS; then the account's turn passes.
BATCHES_PER_TASK = 8
TASK_SECONDS = 5.0


@task()
def knowledge_embeddings_make(account_id: int) -> int:
    """Make the vectors the account's entries are missing (a bounded part; then a follow-up)."""
    if not semantic.enabled():
        return 0  # no model (or BOT_EMBEDDINGS off): the bot ranks by words alone
    try:
        made, remaining = semantic.embeddings_make(
            account_id=account_id, batches=BATCHES_PER_TASK, seconds=TASK_SECONDS
        )
    except embedding.ModelUnavailable:
        return 0  # logged once by the loader
    if remaining:
        knowledge_embeddings_request(account_id=account_id)
    return made


def knowledge_embeddings_request(*, account_id: int) -> bool:
    """Make sure a task will make the account's missing vectors: enqueue one unless one is
    already waiting. Call it in the transaction that wrote the entries. Returns whether one was
    enqueued."""
    if not semantic.enabled():
        return False  # no model here (or BOT_EMBEDDINGS off): vectors are not used
    backend = knowledge_embeddings_make.get_backend()
    with transaction.atomic():
        if _waiting(backend, account_id):
            return False
        knowledge_embeddings_make.enqueue(account_id=account_id)
        return True


def _waiting(backend, account_id: int) -> bool:
    """Whether a task for the account is queued, due and not locked by another transaction
    (then locked until the caller commits)."""
    try:
        from django_tasks_db.backend import DatabaseBackend
        from django_tasks_db.models import DBTaskResult
    except ImportError:  # pragma: no cover (a dependency of the project)
        return False
    if not isinstance(backend, DatabaseBackend):
        return False  # another backend: a task per request (each finds the work of all)
    found = (
        DBTaskResult.objects.ready()
        .filter(
            backend_name=backend.alias,
            queue_name=knowledge_embeddings_make.queue_name,
            task_path=knowledge_embeddings_make.module_path,
            args_kwargs={"args": [], "kwargs": {"account_id": account_id}},
        )
        .select_for_update(skip_locked=True)
        .values_list("id", flat=True)[:1]
    )
    return bool(list(found))
