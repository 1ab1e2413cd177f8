"""Quotas per account (keywords, knowledge entries) and the bounded fan-out of one message
(keyword notifications): through the API, the admin and the import alike."""

import random
import re
import time
import unicodedata

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from keywords.matching import keyword_normalize, keywords_matching
from keywords.models import Keyword, KeywordNotification
from knowledge.models import KnowledgeEntry
from webhooks.models import Delivery, Event, Webhook

from .factories import KnowledgeEntryFactory, RoomFactory

KEYWORDS_FULL = {
    "detail": "Limit reached: an account has at most 3 keywords (KEYWORDS_PER_ACCOUNT)."
}
KNOWLEDGE_FULL = {
    "detail": "Limit reached: an account has at most 3 knowledge entries "
    "(KNOWLEDGE_ENTRIES_PER_ACCOUNT)."
}


@pytest.fixture(autouse=True)
def small_quotas(settings, no_rate_limits):
    settings.KEYWORDS_PER_ACCOUNT = 3
    settings.KNOWLEDGE_ENTRIES_PER_ACCOUNT = 3
    settings.KEYWORD_NOTIFICATIONS_PER_MESSAGE = 3


def add_keyword(account, word):
    return account.client.post("/api/v1/keywords/", {"keyword": word}, format="json")


def add_entry(account, question):
    return account.client.post(
        "/api/v1/knowledge/", {"question": question, "answer": "Yes."}, format="json"
    )


# Keywords -----------------------------------------------------------------------------------


def test_keywords_beyond_the_quota_answer_400_naming_the_limit(alice, bob):
    for word in ["one", "two", "three"]:
        assert add_keyword(alice, word).status_code == 201

    refused = add_keyword(alice, "four")

    assert refused.status_code == 400
    assert refused.json() == KEYWORDS_FULL
    assert Keyword.objects.filter(account=alice.user).count() == 3
    # Per account: bob's keywords are his own quota.
    assert [add_keyword(bob, w).status_code for w in ["one", "two", "three"]] == [201] * 3
    # At the limit an existing keyword can still change, and a deleted one frees a place.
    uuid = Keyword.objects.get(account=alice.user, keyword="one").uuid
    changed = alice.client.patch(f"/api/v1/keywords/{uuid}/", {"keyword": "uno"}, format="json")
    assert changed.status_code == 200
    assert alice.client.delete(f"/api/v1/keywords/{uuid}/").status_code == 204
    assert add_keyword(alice, "four").status_code == 201


def test_a_refused_keyword_with_an_idempotency_key_leaves_the_key_free(alice, settings):
    for word in ["one", "two", "three"]:
        add_keyword(alice, word)
    post = {"path": "/api/v1/keywords/", "data": {"keyword": "four"}, "format": "json"}

    assert alice.client.post(**post, HTTP_IDEMPOTENCY_KEY="k").status_code == 400
    settings.KEYWORDS_PER_ACCOUNT = 4
    assert alice.client.post(**post, HTTP_IDEMPOTENCY_KEY="k").status_code == 201


def test_the_admin_refuses_a_keyword_beyond_the_quota_with_a_form_error(alice, admin_user):
    client = Client()
    client.force_login(admin_user)
    for word in ["one", "two", "three"]:
        add_keyword(alice, word)

    response = client.post(
        "/admin/keywords/keyword/add/", {"account": alice.user.pk, "keyword": "four"}
    )

    assert response.status_code == 200  # the form again, with the error
    assert KEYWORDS_FULL["detail"] in response.content.decode()
    assert Keyword.objects.filter(account=alice.user).count() == 3
    saved = client.post(
        "/admin/keywords/keyword/add/", {"account": admin_user.pk, "keyword": "four"}
    )
    assert saved.status_code == 302  # another account has room


# Knowledge ----------------------------------------------------------------------------------


def test_knowledge_entries_beyond_the_quota_answer_400_naming_the_limit(alice, bob):
    for n in range(3):
        assert add_entry(alice, f"Question {n}?").status_code == 201

    refused = add_entry(alice, "One more?")

    assert refused.status_code == 400
    assert refused.json() == KNOWLEDGE_FULL
    assert KnowledgeEntry.objects.filter(account=alice.user).count() == 3
    assert add_entry(bob, "Bob's first?").status_code == 201
    uuid = KnowledgeEntry.objects.filter(account=alice.user).first().uuid
    changed = alice.client.patch(f"/api/v1/knowledge/{uuid}/", {"answer": "No."}, format="json")
    assert changed.status_code == 200


def test_the_admin_refuses_an_entry_beyond_the_quota_with_a_form_error(alice, admin_user):
    client = Client()
    client.force_login(admin_user)
    KnowledgeEntryFactory.create_batch(3, account=alice.user)

    response = client.post(
        "/admin/knowledge/knowledgeentry/add/",
        {"account": alice.user.pk, "question": "More?", "answer": "Yes.", "tags": ""},
    )

    assert response.status_code == 200
    assert KNOWLEDGE_FULL["detail"] in response.content.decode()
    assert KnowledgeEntry.objects.filter(account=alice.user).count() == 3


def run_import(tmp_path, text):
    path = tmp_path / "kb.csv"
    path.write_text(text)
    call_command("import_knowledge", str(path), account="alice", stdout=None, verbosity=0)


def test_an_import_beyond_the_quota_is_refused_whole(tmp_path, alice):
    KnowledgeEntryFactory(account=alice.user, question="Old?", answer="Yes.")

    with pytest.raises(CommandError) as refused:
        run_import(tmp_path, "question,answer\nA?,1\nB?,2\nC?,3\n")

    assert str(refused.value) == (
        "Limit reached: an account has at most 3 knowledge entries "
        "(KNOWLEDGE_ENTRIES_PER_ACCOUNT); it has 1, and this would add 3. Nothing was imported."
    )
    assert list(KnowledgeEntry.objects.values_list("question", flat=True)) == ["Old?"]
    # Updates take no place: two new entries and a changed one fit.
    run_import(tmp_path, "question,answer\nA?,1\nB?,2\nold?,changed\n")
    assert KnowledgeEntry.objects.filter(account=alice.user).count() == 3
    assert KnowledgeEntry.objects.get(question="old?").answer == "changed"


# One message's fan-out ----------------------------------------------------------------------


def test_one_message_makes_at_most_the_configured_keyword_notifications(alice, settings):
    settings.KEYWORDS_PER_ACCOUNT = 10
    for word in ["echo", "delta", "charlie", "bravo", "alpha"]:
        assert add_keyword(alice, word).status_code == 201
    Webhook.objects.create(
        account=alice.user, event="keyword_notification.added", target="https://h.example.com/"
    )
    room = RoomFactory(account=alice.user)

    response = alice.client.post(
        "/api/v1/messages/",
        {"room": str(room.uuid), "body": "Bravo, then alpha; echo and delta, charlie, bravo."},
        format="json",
    )

    assert response.status_code == 201
    # The first three the message mentions, in its order; the others make nothing.
    created = KeywordNotification.objects.order_by("id").values_list("keyword", flat=True)
    assert list(created) == ["bravo", "alpha", "echo"]
    notified = Event.objects.filter(type="keyword_notification.added")
    assert notified.count() == Delivery.objects.count() == 3


def test_a_long_message_against_the_most_keywords_is_matched_in_one_pass(alice, settings):
    """1,000 keywords (the default quota), all in a 10 KB message: a bounded number of rows and
    queries, in a time that does not grow with the keywords (measured: docs/reliability.md)."""
    settings.KEYWORDS_PER_ACCOUNT = 1000
    settings.KEYWORD_NOTIFICATIONS_PER_MESSAGE = 20
    words = [f"w{n}" for n in range(1000)]
    Keyword.objects.bulk_create(
        Keyword(account=alice.user, keyword=w, normalized=keyword_normalize(w)) for w in words
    )
    listed = " ".join(reversed(words)) + " "
    body = listed + "x" * (10_000 - len(listed))
    room = RoomFactory(account=alice.user)

    started = time.perf_counter()
    response = alice.client.post(
        "/api/v1/messages/", {"room": str(room.uuid), "body": body}, format="json"
    )
    elapsed = time.perf_counter() - started

    assert response.status_code == 201
    assert list(KeywordNotification.objects.order_by("id").values_list("keyword", flat=True)) == [
        f"w{n}" for n in range(999, 979, -1)
    ]
    assert elapsed < 5  # generous for a loaded CI machine; typically tens of milliseconds


# Matching: the one-pass matcher finds exactly what a regex per keyword finds ------------------


def _reference(text: str, keywords: list[str]) -> set[str]:
    """The previous implementation: one regex search per keyword."""
    haystack = unicodedata.normalize("NFC", text).casefold()
    found = set()
    for keyword in keywords:
        words = r"\s+".join(map(re.escape, keyword.split()))
        if re.search(rf"(?<!\w){words}(?!\w)", haystack):
            found.add(keyword)
    return found


def test_the_one_pass_matcher_agrees_with_a_regex_per_keyword():
    alphabet = [*"aaabbé_1 -.\n\tÉß+", "ss", "  ", "e\u0301"]
    rng = random.Random(20261202)
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        keywords = set()
        for _ in range(rng.randint(1, 6)):
            if text and rng.random() < 0.7:
                start = rng.randint(0, len(text))
                candidate = text[start : rng.randint(start, len(text))]
            else:
                candidate = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 5)))
            keyword = keyword_normalize(candidate)
            if any(c.isalnum() for c in keyword):
                keywords.add(keyword)
        keywords = sorted(keywords)
        assert set(keywords_matching(text, keywords)) == _reference(text, keywords), (
            text,
            keywords,
        )


def test_matching_examples():
    keywords = ["new", "new york", "c++", "art", "résumé"]
    text = "Art in New\n York, c++ and C++x, party, resume, RÉSUMÉ"
    assert keywords_matching(text, keywords) == ["art", "new", "new york", "c++", "résumé"]
    assert keywords_matching(text, keywords, limit=2) == ["art", "new"]
    assert keywords_matching("", keywords) == []
