"""The full-text index the database keeps, and the ranking on top of it."""

import pytest
from django.db import connection

from knowledge import search
from knowledge.models import KnowledgeEntry
from knowledge.search import knowledge_search
from knowledge.search_index import search_index_ensure

from .factories import KnowledgeEntryFactory

QUESTIONS = [
    "How long does shipping take?",
    "What is your refund policy?",
    "How do I reset my password?",
    "Do you ship internationally?",
    "How do I pair my headphones with Bluetooth?",
]


@pytest.fixture
def entries(alice):
    return [
        KnowledgeEntry.objects.create(account=alice.user, question=q, answer=f"About: {q}")
        for q in QUESTIONS
    ]


@pytest.fixture
def with_synonyms(monkeypatch):
    """The synonym and expression table on (off by default since the evaluation on knowledge
    bases written by others showed it did not help, docs/bot.md)."""
    monkeypatch.setattr(search, "USE_SYNONYMS", True)
    search._entry_terms.cache_clear()
    yield
    search._entry_terms.cache_clear()


def ranked(alice, text, context=""):
    return [
        m.entry.question
        for m in knowledge_search(account_id=alice.user.pk, text=text, context=context)
    ]


def test_ranks_by_meaning_words_not_stop_words(alice, entries):
    assert ranked(alice, "shipping abroad?")[0] == "Do you ship internationally?"
    assert ranked(alice, "can I get my money back? refunds")[0] == "What is your refund policy?"
    assert ranked(alice, "what is the", "") == []
    # No synonyms by default: earbuds are not headphones to the words (the embeddings see it).
    assert ranked(alice, "connect my earbuds") == []


def test_synonyms_when_on(alice, entries, with_synonyms):
    # Synonyms: earbuds are headphones, a parcel is a delivery matter.
    assert ranked(alice, "connect my earbuds")[0] == "How do I pair my headphones with Bluetooth?"


def test_confidence_is_low_for_what_the_knowledge_does_not_cover(alice, entries, settings):
    [best, *_] = knowledge_search(account_id=alice.user.pk, text="How long does shipping take?")
    assert best.confidence == 1.0
    unknown = knowledge_search(account_id=alice.user.pk, text="Do you sell garden gnomes?")
    assert not unknown or unknown[0].confidence < settings.BOT_CONFIDENCE_THRESHOLD


def test_words_alone_as_written_without_the_table(alice):
    assert search.words("Can I send it back?") == ["send", "back"]
    assert search.words("Where\u2019s my parcel?") == ["parcel"]


def test_the_best_entrys_lead_over_the_second_counts(alice, entries, settings, monkeypatch):
    """Without the embedding model, knowledge_rank ranks by words; the best entry's confidence
    adds MARGIN_WEIGHT times its lead over the second best (at most 1)."""
    from knowledge.search import knowledge_rank

    settings.BOT_EMBEDDINGS = False
    plain = knowledge_search(account_id=alice.user.pk, text="shipping abroad?")
    first, second = plain[0].confidence, plain[1].confidence
    assert first > second > 0
    ranked_ = knowledge_rank(account_id=alice.user.pk, text="shipping abroad?")
    assert [m.entry for m in ranked_] == [m.entry for m in plain]
    lead = min(first + search.MARGIN_WEIGHT * (first - second), 1.0)
    assert ranked_[0].confidence == pytest.approx(lead, abs=1e-4)
    assert ranked_[1].confidence == second


def test_fallback_without_the_index_ranks_the_same(alice, entries, monkeypatch):
    texts = ["shipping abroad", "reset password", "refund", "bluetooth headphones pairing"]
    with_index = [ranked(alice, t) for t in texts]
    monkeypatch.setattr(search, "_candidates", search._candidates_scan)
    assert [ranked(alice, t) for t in texts] == with_index


def test_the_index_follows_inserts_updates_and_deletes(alice, bob):
    entry = KnowledgeEntryFactory(account=alice.user, question="Gift wrapping?")
    assert ranked(alice, "wrapping") == ["Gift wrapping?"]
    KnowledgeEntry.objects.filter(pk=entry.pk).update(question="Engraving?")
    assert ranked(alice, "wrapping") == []
    assert ranked(alice, "engraving") == ["Engraving?"]
    entry.delete()
    assert ranked(alice, "engraving") == []
    KnowledgeEntryFactory(account=bob.user, question="Engraving?")
    assert ranked(alice, "engraving") == []


@pytest.mark.django_db(transaction=True)
def test_a_lost_index_is_rebuilt_after_migrate(alice, entries):
    """SQLite drops a table's triggers when Django rebuilds it; post_migrate puts them back.
    (Committed data, as after a migration: PostgreSQL refuses DDL after writes in a transaction.)"""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER knowledge_fts_insert")
            cursor.execute("DELETE FROM knowledge_fts")
        else:
            cursor.execute("DROP TRIGGER knowledge_search_vector ON knowledge_knowledgeentry")
    search_index_ensure(connection)
    assert ranked(alice, "refund")[0] == "What is your refund policy?"
    KnowledgeEntryFactory(account=alice.user, question="Gift wrapping?")
    assert ranked(alice, "wrapping") == ["Gift wrapping?"]


def test_expressions_read_as_the_word_they_mean(alice, with_synonyms):
    assert search.words("Can I send it back?") == ["return"]
    assert search.words("How much is it?") == ["cost"]
    assert search.words("How many days does it take?") == ["long", "take"]
    assert search.words("Where\u2019s my parcel? It didn't arrive") == [
        "track",
        "parcel",
        "missing",
    ]
    for question in ["What is your return policy?", "Do you ship internationally?"]:
        KnowledgeEntry.objects.create(account=alice.user, question=question, answer="...")
    # "ship" alone is shipping; "ship it back" is a return.
    assert ranked(alice, "can I ship these shoes back?")[0] == "What is your return policy?"
    assert ranked(alice, "can you ship these shoes to France?")[0] == "Do you ship internationally?"


def test_a_word_no_entry_knows_lowers_the_confidence_more(alice, entries, monkeypatch):
    def confidence(text):
        return knowledge_search(account_id=alice.user.pk, text=text)[0].confidence

    # "gnomes" is in no entry: the message is about something the knowledge does not cover.
    lowered = confidence("shipping for garden gnomes")
    monkeypatch.setattr(search, "UNKNOWN_WEIGHT", 1.0)
    assert confidence("shipping for garden gnomes") > lowered
    assert confidence("how long does shipping take") == 1.0  # no unknown word: unchanged
