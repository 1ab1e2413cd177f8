"""Knowledge gaps: the handed-off questions grouped by meaning, in the API
(`GET /api/v1/knowledge_gaps/`) and the admin."""

import datetime as dt
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from bot import selectors
from bot.models import HandOff
from knowledge.models import KnowledgeEntry

from .factories import MessageFactory, RoomFactory

URL = "/api/v1/knowledge_gaps/"
T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _no_rate_limits(no_rate_limits):
    pass


def hand_off(user, body, minutes, room=None):
    """A handed-off visitor message, `minutes` after T0."""
    room = room or RoomFactory(account=user)
    at = T0 + dt.timedelta(minutes=minutes)
    message = MessageFactory(account=user, room=room, body=body, sent_at=at)
    return HandOff.objects.create(
        account=user, room=room, message=message, reason="low_confidence", created_at=at
    )


@pytest.fixture
def gaps(alice, bob):
    """Alice's hand-offs: two asks worded twice each, and two asks on a shared topic that are
    not the same question (gift wrapping, gift cards: cosine 0.70)."""
    made = {
        "paris_old": hand_off(alice.user, "Do you have a store in Paris?", 0),
        "mars_old": hand_off(alice.user, "Do you ship to Mars?", 1),
        "wrap": hand_off(alice.user, "Do you offer gift wrapping?", 2),
        "paris": hand_off(alice.user, "Where is your shop in Paris?", 3),
        "cards": hand_off(alice.user, "Do you sell gift cards?", 4),
        "mars": hand_off(alice.user, "Can you deliver to Mars?", 5),
    }
    hand_off(bob.user, "Do you ship to Mars?", 6)  # bob's: never in alice's gaps
    return made


def room_ref(room):
    return {"uuid": str(room.uuid), "label": room.label}


def test_questions_that_ask_the_same_thing_are_one_gap_newest_first(alice, gaps):
    response = alice.client.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (4, None, None)
    assert [(g["question"], g["count"]) for g in body["results"]] == [
        ("Can you deliver to Mars?", 2),
        ("Do you sell gift cards?", 1),
        ("Where is your shop in Paris?", 2),
        ("Do you offer gift wrapping?", 1),
    ]
    mars = body["results"][0]
    assert mars == {
        "question": "Can you deliver to Mars?",
        "count": 2,
        "latest_at": "2026-11-01T12:05:00.000000Z",
        "first_at": "2026-11-01T12:01:00.000000Z",
        "room": room_ref(gaps["mars"].room),
        "message": str(gaps["mars"].message.uuid),
        "questions": [
            {
                "body": "Can you deliver to Mars?",
                "message": str(gaps["mars"].message.uuid),
                "room": room_ref(gaps["mars"].room),
                "created_at": "2026-11-01T12:05:00.000000Z",
            },
            {
                "body": "Do you ship to Mars?",
                "message": str(gaps["mars_old"].message.uuid),
                "room": room_ref(gaps["mars_old"].room),
                "created_at": "2026-11-01T12:01:00.000000Z",
            },
        ],
    }


def test_other_accounts_gaps_are_never_listed(alice, bob, gaps):
    [bobs] = bob.client.get(URL).json()["results"]
    assert (bobs["question"], bobs["count"]) == ("Do you ship to Mars?", 1)
    alices = alice.client.get(URL).json()["results"]
    assert bobs["message"] not in {q["message"] for g in alices for q in g["questions"]}


def test_without_a_key_401(anon, gaps):
    response = anon.get(URL)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_both_slash_forms_and_list_only(alice, gaps):
    assert alice.client.get(URL.rstrip("/")).status_code == 200
    assert alice.client.post(URL, {}, format="json").status_code == 405


def test_paginated_like_the_other_lists(alice, gaps):
    first = alice.client.get(URL, {"limit": 3}).json()
    assert (first["count"], len(first["results"]), first["previous"]) == (4, 3, None)
    assert parse_qs(urlparse(first["next"]).query) == {"limit": ["3"], "offset": ["3"]}
    second = alice.client.get(URL, {"limit": 3, "offset": 3}).json()
    assert [g["question"] for g in second["results"]] == ["Do you offer gift wrapping?"]
    assert second["next"] is None
    assert alice.client.get(URL, {"limit": "x"}).json() == {
        "limit": ["A valid integer is required."]
    }
    response = alice.client.get(URL, {"cursor": ""})
    assert (response.status_code, response.json()) == (
        400,
        {"cursor": ["Not available on this list."]},
    )


def test_date_filters_bound_the_hand_offs(alice, gaps):
    # From 12:03: the older wordings of Mars and Paris and the gift wrapping are left out.
    body = alice.client.get(URL, {"start_date": "2026-11-01T12:03:00Z"}).json()
    assert [(g["question"], g["count"]) for g in body["results"]] == [
        ("Can you deliver to Mars?", 1),
        ("Do you sell gift cards?", 1),
        ("Where is your shop in Paris?", 1),
    ]
    body = alice.client.get(URL, {"end_date": "2026-11-01T12:01:00Z"}).json()
    assert [g["question"] for g in body["results"]] == [
        "Do you ship to Mars?",
        "Do you have a store in Paris?",
    ]
    assert alice.client.get(URL, {"start_date": "2026-11-02"}).json()["count"] == 0
    assert alice.client.get(URL, {"end_date": "2026-11-01"}).json()["count"] == 4
    response = alice.client.get(URL, {"start_date": "yesterday"})
    assert (response.status_code, response.json()) == (
        400,
        {"start_date": ["Enter a date (YYYY-MM-DD) or an ISO 8601 datetime."]},
    )


def test_vectors_are_made_once_and_kept(alice, gaps, django_assert_num_queries):
    assert not HandOff.objects.filter(embedding__isnull=False).exists()
    alice.client.get(URL)
    assert HandOff.objects.filter(account=alice.user, embedding__isnull=True).count() == 0
    assert HandOff.objects.filter(account__username="bob", embedding__isnull=True).count() == 1
    # Then: the key's lookup and one query for the hand-offs (with their messages and rooms).
    with django_assert_num_queries(2):
        assert alice.client.get(URL).json()["count"] == 4


def test_an_edited_question_is_encoded_again(alice, gaps):
    alice.client.get(URL)
    gaps["cards"].refresh_from_db()
    before = bytes(gaps["cards"].embedding)
    message = gaps["cards"].message
    message.body = "Could you deliver my order to Mars?"
    message.save()
    body = alice.client.get(URL).json()
    gaps["cards"].refresh_from_db()
    after = bytes(gaps["cards"].embedding)
    assert after != before
    assert after[: selectors.DIGEST_BYTES] == selectors._digest(message.body)
    # ... and it now asks what the Mars gap asks.
    mars = body["results"][0]
    assert (mars["question"], mars["count"]) == ("Can you deliver to Mars?", 3)


def test_only_the_newest_hand_offs_are_grouped(alice, gaps, monkeypatch):
    monkeypatch.setattr(selectors, "MAX_HAND_OFFS", 3)
    body = alice.client.get(URL).json()
    assert sum(g["count"] for g in body["results"]) == 3
    assert body["results"][0]["question"] == "Can you deliver to Mars?"


def test_without_the_model_the_same_words_are_one_gap(alice, settings):
    settings.BOT_EMBEDDINGS = False
    hand_off(alice.user, "Do you ship to Mars?", 0)
    hand_off(alice.user, "do you SHIP to mars", 1)
    hand_off(alice.user, "Can you deliver to Mars?", 2)
    body = alice.client.get(URL).json()
    assert [(g["question"], g["count"]) for g in body["results"]] == [
        ("Can you deliver to Mars?", 1),
        ("do you SHIP to mars", 2),
    ]
    assert not HandOff.objects.filter(embedding__isnull=False).exists()


def test_the_bots_hand_offs_are_gaps(alice):
    KnowledgeEntry.objects.create(
        account=alice.user, question="How long does shipping take?", answer="3 to 5 days."
    )
    for _ in range(2):
        room = RoomFactory(account=alice.user, is_bot_use=True)
        sent = alice.client.post(
            "/api/v1/messages/",
            {"body": "Can I pay with Bitcoin on Saturdays?", "room": str(room.uuid)},
            format="json",
        ).json()
        assert sent["terminated"] is True
    [gap] = alice.client.get(URL).json()["results"]
    assert (gap["question"], gap["count"]) == ("Can I pay with Bitcoin on Saturdays?", 2)
    assert gap["message"] == sent["uuid"]


def test_schema(anon):
    schema = anon.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    params = {p["name"] for p in schema["paths"]["/api/v1/knowledge_gaps/"]["get"]["parameters"]}
    assert params == {"start_date", "end_date", "limit", "offset"}
    gap = schema["components"]["schemas"]["KnowledgeGap"]
    assert set(gap["properties"]) == {
        "question", "count", "latest_at", "first_at", "room", "message", "questions",
    }  # fmt: skip


# The admin page.


def test_admin_lists_gaps_per_account_with_answer_this(admin_client, alice, bob, gaps):
    chooser = admin_client.get("/admin/bot/knowledgegap/")
    assert chooser.status_code == 200
    assert f"?account={alice.user.pk}".encode() in chooser.content
    assert f"?account={bob.user.pk}".encode() in chooser.content

    page = admin_client.get(f"/admin/bot/knowledgegap/?account={alice.user.pk}")
    assert page.status_code == 200
    gap = page.context["gaps"][0]
    assert (gap["gap"].question, gap["gap"].count) == ("Can you deliver to Mars?", 2)
    content = page.content.decode()
    assert "Do you ship to Mars?" in content  # the other wording, under the newest
    assert content.index("Can you deliver to Mars?") < content.index("Where is your shop in Paris?")
    assert f"/admin/rooms/room/{gaps['mars'].room.pk}/change/" in content
    assert gap["answer_url"].replace("&", "&amp;") in content

    # One click: the knowledge entry's add form, filled in with the question and the account.
    form = admin_client.get(gap["answer_url"])
    assert form.status_code == 200
    initial = form.context["adminform"].form.initial
    assert (initial["question"], str(initial["account"])) == (
        "Can you deliver to Mars?",
        str(alice.user.pk),
    )
    assert b"Can you deliver to Mars?</textarea>" in form.content or (
        b'value="Can you deliver to Mars?"' in form.content
    )


def test_admin_page_of_a_non_superuser_shows_their_account_only(alice, bob, gaps):
    alice.user.is_staff = True
    alice.user.save()
    alice.user.user_permissions.add(Permission.objects.get(codename="view_knowledgegap"))
    client = Client()
    client.force_login(alice.user)
    for url in ["/admin/bot/knowledgegap/", f"/admin/bot/knowledgegap/?account={bob.user.pk}"]:
        page = client.get(url)
        assert page.status_code == 200
        assert page.context["account"] == alice.user
        assert "accounts" not in page.context
        questions = {q.body for g in page.context["gaps"] for q in g["gap"].questions}
        assert len(questions) == 6 and "Can you deliver to Mars?" in questions
    # Bob's hand-off, worded as alice's older one, is not there: alice's Mars gap has hers only.
    mars = page.context["gaps"][0]["gap"]
    assert {q.hand_off_id for q in mars.questions} == {gaps["mars"].pk, gaps["mars_old"].pk}


def test_admin_page_needs_the_permission(alice, gaps):
    alice.user.is_staff = True
    alice.user.save()
    client = Client()
    client.force_login(alice.user)
    assert client.get("/admin/bot/knowledgegap/").status_code == 403
