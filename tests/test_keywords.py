import pytest

from keywords.models import KeywordNotification
from tests.factories import RoomFactory
from webhooks import worker
from webhooks.models import Delivery

UNKNOWN = f"{'0' * 8}-0000-4000-8000-{'0' * 12}"


def add_keyword(account, keyword):
    response = account.client.post("/api/v1/keywords/", {"keyword": keyword}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def post_message(account, room, body, **extra):
    response = account.client.post(
        "/api/v1/messages/",
        {"body": body, "room": {"uuid": str(room.uuid)}, **extra},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


# Keywords (an extension) ---------------------------------------------------------------------


def test_keyword_crud_and_tenancy(alice, bob):
    refund = add_keyword(alice, "  Refund   policy ")
    assert refund["keyword"] == "Refund policy"
    assert set(refund) == {"uuid", "keyword", "created_at"}
    theirs = add_keyword(bob, "refund policy")  # another account may have the same one
    listed = alice.client.get("/api/v1/keywords/").json()
    assert [k["uuid"] for k in listed["results"]] == [refund["uuid"]]

    url = f"/api/v1/keywords/{refund['uuid']}/"
    response = alice.client.patch(url, {"keyword": "refunds"}, format="json")
    assert response.status_code == 200
    assert response.json()["keyword"] == "refunds"
    for method in ["get", "put", "patch", "delete"]:
        response = getattr(alice.client, method)(
            f"/api/v1/keywords/{theirs['uuid']}/", {"keyword": "x"}, format="json"
        )
        assert response.status_code == 404
    assert alice.client.delete(url).status_code == 204
    assert alice.client.get("/api/v1/keywords/").json()["count"] == 0


def test_duplicate_keywords_ignoring_case_are_refused(alice):
    first = add_keyword(alice, "Été")
    for duplicate in ["été", "ÉTÉ", "e\u0301te\u0301"]:
        response = alice.client.post("/api/v1/keywords/", {"keyword": duplicate}, format="json")
        assert response.status_code == 400
        assert response.json() == {"keyword": ["You already have this keyword."]}
    other = add_keyword(alice, "hiver")
    response = alice.client.patch(
        f"/api/v1/keywords/{other['uuid']}/", {"keyword": "ÉTÉ"}, format="json"
    )
    assert response.status_code == 400
    # Saving a keyword unchanged is not a duplicate of itself.
    response = alice.client.put(f"/api/v1/keywords/{first['uuid']}/", {"keyword": "été"})
    assert response.status_code == 200


@pytest.mark.parametrize("keyword", ["", "   ", "!!!", "x" * 101])
def test_bad_keywords_are_refused(alice, keyword):
    response = alice.client.post("/api/v1/keywords/", {"keyword": keyword}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["keyword"]


@pytest.mark.parametrize("path", ["/api/v1/keywords/", "/api/v1/keyword_notifications/"])
def test_keyword_endpoints_need_a_valid_key(anon, path):
    assert anon.get(path).status_code == 401
    anon.credentials(HTTP_AUTHORIZATION="Token " + "f" * 40)
    assert anon.get(path).status_code == 401


# Matching ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "keyword, body, matches",
    [
        ("refund", "I want a REFUND now", True),
        ("refund", "Refunds?", False),
        ("refund", "(refund)", True),
        ("art", "What a party", False),
        ("art", "Un artículo", False),
        ("art", "art.", True),
        ("refund policy", "your Refund\n policy?", True),
        ("café", "Un CAFÉ noir", True),
        ("café", "un cafe\u0301 noir", True),  # decomposed accent
        ("café", "un cafe noir", False),  # accents are significant
        ("привет", "Привет, мир", True),
        ("привет", "приветствие", False),
        ("東京", "東京", True),
        ("c++", "I write C++ daily", True),
    ],
)
def test_matching_case_word_boundaries_and_accents(alice, keyword, body, matches):
    add_keyword(alice, keyword)
    post_message(alice, RoomFactory(account=alice.user), body)
    assert KeywordNotification.objects.exists() is matches


def test_notification_shape_and_one_per_keyword(alice):
    add_keyword(alice, "refund")
    add_keyword(alice, "Order")
    add_keyword(alice, "unrelated")
    room = RoomFactory(account=alice.user)
    message = post_message(alice, room, "Refund my order, refund it!", nickname="Ann")
    response = alice.client.get("/api/v1/keyword_notifications/")
    assert response.status_code == 200
    page = response.json()
    assert page["count"] == 2
    assert {n["keyword"] for n in page["results"]} == {"refund", "Order"}
    notification = page["results"][0]
    assert set(notification) == {"uuid", "keyword", "message", "room", "created_at"}
    assert (
        notification["message"] == alice.client.get(f"/api/v1/messages/{message['uuid']}/").json()
    )
    assert notification["room"] == {"uuid": str(room.uuid), "label": room.label}
    detail = alice.client.get(f"/api/v1/keyword_notifications/{notification['uuid']}/")
    assert detail.json() == notification


def test_support_messages_and_other_accounts_do_not_notify(alice, bob):
    add_keyword(alice, "refund")
    post_message(alice, RoomFactory(account=alice.user), "refund done", is_support_sender=True)
    post_message(bob, RoomFactory(account=bob.user), "refund please")
    assert not KeywordNotification.objects.exists()
    add_keyword(bob, "refund")
    post_message(bob, RoomFactory(account=bob.user), "refund please")
    assert alice.client.get("/api/v1/keyword_notifications/").json()["count"] == 0
    theirs = KeywordNotification.objects.get()
    assert alice.client.get(f"/api/v1/keyword_notifications/{theirs.uuid}/").status_code == 404
    assert bob.client.get("/api/v1/keyword_notifications/").json()["count"] == 1


def test_notifications_filters_and_pagination(alice):
    add_keyword(alice, "help")
    add_keyword(alice, "price")
    room, other_room = RoomFactory(account=alice.user), RoomFactory(account=alice.user)
    for body in ["help", "price?", "help me with the price"]:
        post_message(alice, room, body)
    post_message(alice, other_room, "help")
    KeywordNotification.objects.filter(message__body="help me with the price").update(
        created_at="2026-01-10T12:00:00Z"
    )

    def count(query):
        response = alice.client.get(f"/api/v1/keyword_notifications/?{query}")
        assert response.status_code == 200, response.json()
        return response.json()["count"]

    assert count("") == 5
    assert count("keyword=HELP") == 3
    assert count(f"room={other_room.uuid}") == 1
    assert count("start_date=2026-01-10&end_date=2026-01-10") == 2
    assert count("end_date=2026-01-09") == 0
    assert len(alice.client.get("/api/v1/keyword_notifications/?limit=2").json()["results"]) == 2
    bad = alice.client.get("/api/v1/keyword_notifications/?start_date=yesterday")
    assert bad.status_code == 400
    assert list(bad.json()) == ["start_date"]


def test_notification_list_query_count(alice, django_assert_num_queries, no_rate_limits):
    add_keyword(alice, "help")
    room = RoomFactory(account=alice.user)
    for _ in range(5):
        post_message(alice, room, "help")
    alice.client.get("/api/v1/keyword_notifications/")
    with django_assert_num_queries(3):  # key, count, page
        alice.client.get("/api/v1/keyword_notifications/")


def test_notifications_fire_the_keyword_notification_webhook(alice, receiver):
    alice.client.post(
        "/api/v1/webhooks/",
        {"event": "keyword_notification.added", "target": receiver.url},
        format="json",
    )
    add_keyword(alice, "cancel")
    post_message(alice, RoomFactory(account=alice.user), "please cancel")
    worker.run(once=True, concurrency=1)
    [request] = receiver.received
    data = request.json["data"]
    assert request.json["hook"]["event"] == "keyword_notification.added"
    notification = alice.client.get("/api/v1/keyword_notifications/").json()["results"][0]
    assert data == notification
    assert Delivery.objects.get().status == "succeeded"


def test_keyword_list_query_count(alice, django_assert_num_queries, no_rate_limits):
    for keyword in ["a1", "b2", "c3"]:
        add_keyword(alice, keyword)
    alice.client.get("/api/v1/keywords/")
    with django_assert_num_queries(3):  # key, count, page
        assert alice.client.get("/api/v1/keywords/").json()["count"] == 3
