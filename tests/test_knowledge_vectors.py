"""Entries' vectors are made by the task worker, never on a visitor's answer path: 500 entries
written through the API, then a visitor's message (docs/bot.md, "Each entry's vector")."""

import time

import pytest
from django.db import connection

from knowledge import semantic
from knowledge.models import KnowledgeEntry

from .concurrency import in_another_connection
from .tasks import run_tasks
from .test_bot import bot_room, post
from .test_embedding import COUPON, SHOP, embed_tasks, encoded  # noqa: F401 (a fixture)

ENTRIES = 500
# A message's usual time is milliseconds (docs/bot.md); encoding 500 entries took 5-6 s here.
MESSAGE_SECONDS = 2.0


def create_through_the_api(account, entries):
    for question, answer in entries:
        response = account.client.post(
            "/api/v1/knowledge/", {"question": question, "answer": answer}, format="json"
        )
        assert response.status_code == 201, response.json()


@pytest.mark.django_db(transaction=True)
def test_500_new_entries_make_no_visitor_wait(alice, bob, encoded, monkeypatch):  # noqa: F811
    create_through_the_api(alice, [("What are your opening hours?", "9 am to 5 pm.")])
    run_tasks()  # an entry with its vector: the bot ranks with embeddings
    stock = [(f"Do you stock item number {n}?", f"Yes, item {n} is in stock.") for n in range(496)]
    create_through_the_api(alice, stock + SHOP)
    assert KnowledgeEntry.objects.filter(embedding__isnull=True).count() == ENTRIES
    # 500 writes, one task waiting for alice (each write after the first found it queued).
    assert embed_tasks().filter(status="READY").count() == 1
    encoded.clear()

    # While alice's message is being answered (inside its transaction, where the question is
    # encoded), bob writes. On PostgreSQL he does so from his own connection at that moment; on
    # SQLite (one writer at a time, and the tests' in-memory database does not wait for locks)
    # tests/test_knowledge_vectors_sqlite.py does it against gunicorn and a database file.
    bob_took = []
    real_encode = semantic.encode

    def encode_while_bob_writes(text):
        if connection.vendor == "postgresql":
            started = time.monotonic()
            status = in_another_connection(
                lambda: (
                    bob.client.post(
                        "/api/v1/knowledge/",
                        {"question": "Bob's?", "answer": "Bob's."},
                        format="json",
                    ).status_code
                )
            )
            bob_took.append((status, time.monotonic() - started))
        return real_encode(text)

    monkeypatch.setattr(semantic, "encode", encode_while_bob_writes)
    started = time.monotonic()
    sent = post(alice, bot_room(alice.user), "Where do I put my coupon?")
    took = time.monotonic() - started
    assert encoded == [1]  # the visitor's question, not one entry
    assert sent["terminated"] is True  # words alone do not find the discount code's entry
    assert took < MESSAGE_SECONDS, took
    if connection.vendor == "postgresql":
        [(status, seconds)] = bob_took
        assert status == 201 and seconds < 1.0, bob_took

    # An entry without its vector yet is ranked by its words meanwhile.
    sent = post(alice, bot_room(alice.user), "Do you stock item number 321?")
    assert sent["support_answer"] == "Yes, item 321 is in stock."
    assert encoded == [1, 1]

    run_tasks()
    assert not KnowledgeEntry.objects.filter(embedding__isnull=True).exists()
    assert sum(encoded[2:]) == ENTRIES + len(bob_took)  # by the worker, in batches
    assert max(encoded[2:]) == semantic.BATCH
    encoded.clear()
    # And the bot uses them: the question that shares no word with the entry is answered now.
    sent = post(alice, bot_room(alice.user), "Where do I put my coupon?")
    assert (sent["support_answer"], sent["terminated"]) == (COUPON, False)
    assert encoded == [1]
    vectors = semantic.matrices.get(alice.user.pk)
    assert (len(vectors.ids), vectors.missing) == (1 + ENTRIES, 0)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_visitors_message_never_waits_for_the_queued_tasks_lock(alice):
    """A write (an import, say) holds the account's queued task locked until it commits, so that
    no worker starts it too early. The bot's request for the same account meanwhile (a visitor's
    message, from another connection) does not wait for it: it queues a task of its own. (Writes
    of one account wait for each other anyway, on the account's row: the quotas.)"""
    from django.db import transaction

    from knowledge.services import knowledge_entry_create
    from knowledge.tasks import knowledge_embeddings_request

    def request():
        with connection.cursor() as cursor:  # waiting would fail the test rather than hang it
            cursor.execute("SET lock_timeout = '5s'")
        return knowledge_embeddings_request(account_id=alice.user.pk)

    knowledge_entry_create(account=alice.user, question="First?", answer="One.")  # queued
    with transaction.atomic():
        knowledge_entry_create(account=alice.user, question="Second?", answer="Two.")  # locked
        started = time.monotonic()
        assert in_another_connection(request) is True
        assert time.monotonic() - started < 1.0
    assert embed_tasks().filter(status="READY").count() == 2
    run_tasks()
    assert not KnowledgeEntry.objects.filter(embedding__isnull=True).exists()
