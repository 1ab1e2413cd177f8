import json
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from rest_framework.renderers import JSONRenderer

from messaging.services import message_create
from tests.factories import RoomFactory
from webhooks import worker
from webhooks.events import SERIALIZERS, event_render
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Event, Webhook
from webhooks.signing import verify

VALID = "message.added, lead.added, chat.added, keyword_notification.added, chat.handed_off"


@pytest.fixture
def fast_retries(settings):
    settings.WEBHOOK_RETRY_BASE_DELAY = 0
    settings.WEBHOOK_RETRY_MAX_DELAY = 0


def subscribe(account, target, event="message.added"):
    response = account.client.post(
        "/api/v1/webhooks/", {"event": event, "target": target}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def post_message(account, room, body="Hello"):
    response = account.client.post(
        "/api/v1/messages/", {"body": body, "room": {"uuid": str(room.uuid)}}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def deliver(concurrency=1):
    worker.run(once=True, concurrency=concurrency, poll_interval=0.01)


def deliver_in_threads(workers=3, concurrency=4):
    """Several workers at once (threads, each its own database connection), as processes would."""

    def worker_process():
        deliver(concurrency=concurrency)
        connection.close()

    threads = [threading.Thread(target=worker_process) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def make_due():
    """Time passes: every scheduled retry is due now."""
    Delivery.objects.filter(status=DeliveryStatus.PENDING).update(next_attempt_at=timezone.now())
    Webhook.objects.update(target_backoff_until=None)  # and every target's backoff is over


# Subscriptions ------------------------------------------------------------------------------


def test_create_answers_201_with_uuid_and_a_secret_shown_once(alice, receiver):
    created = subscribe(alice, receiver.url)
    assert set(created) == {
        "uuid", "event", "target", "is_active", "disabled_reason", "created_at", "secret",
    }  # fmt: skip
    assert created["secret"].startswith("whsec_")
    assert created["is_active"] is True
    shown = alice.client.get(f"/api/v1/webhooks/{created['uuid']}/").json()
    assert "secret" not in shown
    assert "secret" not in alice.client.get("/api/v1/webhooks/").json()["results"][0]


def test_crud_and_the_other_accounts_subscriptions(alice, bob, receiver):
    mine = subscribe(alice, receiver.url)
    theirs = subscribe(bob, receiver.url, event="lead.added")
    listed = alice.client.get("/api/v1/webhooks/").json()
    assert listed["count"] == 1
    assert [w["uuid"] for w in listed["results"]] == [mine["uuid"]]

    url = f"/api/v1/webhooks/{mine['uuid']}/"
    response = alice.client.patch(url, {"event": "chat.added"}, format="json")
    assert response.status_code == 200
    assert response.json()["event"] == "chat.added"
    response = alice.client.put(url, {"event": "lead.added", "target": receiver.url + "2"})
    assert response.status_code == 200
    assert response.json()["target"] == receiver.url + "2"

    for method in ["get", "put", "patch", "delete"]:
        response = getattr(alice.client, method)(
            f"/api/v1/webhooks/{theirs['uuid']}/", {}, format="json"
        )
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}
    for path in ["rotate-secret/", "deliveries/"]:
        method = alice.client.post if path == "rotate-secret/" else alice.client.get
        assert method(f"/api/v1/webhooks/{theirs['uuid']}/{path}").status_code == 404
    assert Webhook.objects.get(uuid=theirs["uuid"]).event == "lead.added"

    assert alice.client.delete(url).status_code == 204
    assert not Webhook.objects.filter(uuid=mine["uuid"]).exists()


@pytest.mark.parametrize(
    "path",
    ["/api/v1/webhooks/", f"/api/v1/webhooks/{'0' * 8}-0000-4000-8000-{'0' * 12}/deliveries/"],
)
def test_webhooks_need_a_valid_key(anon, path):
    assert anon.get(path).status_code == 401
    anon.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = anon.get(path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_unknown_event_is_refused_listing_the_valid_ones(alice):
    response = alice.client.post(
        "/api/v1/webhooks/", {"event": "room.deleted", "target": "https://example.com/h"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "event": [f'"room.deleted" is not a valid event. Valid events: {VALID}.']
    }
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    "target, error",
    [
        ("ftp://example.com/x", "Enter an http or https URL."),
        ("not a url", "Enter a valid URL."),
        ("https://user:pw@example.com/x", "The URL must not contain credentials."),
    ],
)
def test_bad_targets_are_refused(alice, target, error):
    response = alice.client.post("/api/v1/webhooks/", {"event": "lead.added", "target": target})
    assert response.status_code == 400
    assert response.json() == {"target": [error]}
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://app.localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fd00:ec2::254]/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_unsafe_targets_are_refused_in_production_settings(alice, settings, target):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = alice.client.post("/api/v1/webhooks/", {"event": "lead.added", "target": target})
    assert response.status_code == 400
    assert response.json()["target"][0] in {
        "The target must be a public address.",
        "The target must resolve to public addresses only.",
    }
    assert not Webhook.objects.exists()


def test_public_and_not_yet_resolvable_targets_are_accepted(alice, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    for target in ["https://93.184.216.34/hook", "https://hooks.example.invalid/catch/1/"]:
        response = alice.client.post("/api/v1/webhooks/", {"event": "lead.added", "target": target})
        assert response.status_code == 201, response.json()


def test_a_target_that_turns_private_is_refused_at_delivery(alice, receiver, settings):
    """DNS can change after the subscription was checked: the worker checks again."""
    subscribe(alice, receiver.url.replace("127.0.0.1", "localhost"))
    post_message(alice, RoomFactory(account=alice.user))
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    deliver()
    assert receiver.received == []
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts.get().error.startswith("Refused: localhost resolves to a non-public")


# What is recorded -----------------------------------------------------------------------------


def test_each_event_records_one_delivery_per_matching_subscription(alice, bob, receiver):
    for event in ["message.added", "message.added", "lead.added", "chat.added"]:
        subscribe(alice, receiver.url, event=event)
    subscribe(bob, receiver.url)  # bob's subscriptions never see alice's events
    Webhook.objects.create(
        account=alice.user, event="message.added", target=receiver.url, is_active=False
    )
    room = alice.client.post("/api/v1/rooms/").json()
    alice.client.post("/api/v1/leads/", {}, format="json")
    post_message(alice, alice.user.rooms.get())
    # Every event is logged (the live streams read the log); the bot's hand-off in the room too,
    # which no subscription wants.
    counts = {e.type: e.deliveries.count() for e in Event.objects.all()}
    assert counts == {"chat.added": 1, "lead.added": 1, "message.added": 2, "chat.handed_off": 0}
    assert not Delivery.objects.filter(webhook__account=bob.user).exists()
    assert Event.objects.get(type="chat.added").data["uuid"] == room["uuid"]


def test_events_render_each_object_as_a_serializer_of_its_own_would(alice, bob):
    """webhooks.events renders every event of a type with one serializer made once per process;
    each object still reads exactly as a new serializer (the API's) renders it, whatever that
    serializer rendered before: a room, a lead, messages, a keyword notification, a hand-off."""
    for account in (alice, bob):
        account.client.post("/api/v1/keywords/", {"keyword": "gift wrapping"}, format="json")
    for account in (alice, bob, alice):
        room = account.client.post("/api/v1/rooms/").json()  # the bot on, nothing to answer from
        account.client.post("/api/v1/leads/", {"email": "v@example.com"}, format="json")
        post_message(account, account.user.rooms.get(uuid=room["uuid"]), "Any gift wrapping?")
    rendered = {}
    for event_type, path in SERIALIZERS.items():  # one type after another, both accounts' objects
        serializer_class = import_string(path)
        for instance in serializer_class.Meta.model.objects.order_by("pk"):
            fresh = json.loads(JSONRenderer().render(serializer_class(instance).data))
            assert event_render(event_type, instance) == fresh
            rendered[event_type] = rendered.get(event_type, 0) + 1
    # Each type rendered for several objects of both accounts (the bot's answer is a message).
    assert rendered == {
        "chat.added": 3,
        "lead.added": 3,
        "message.added": 6,
        "keyword_notification.added": 3,
        "chat.handed_off": 3,
    }


def test_without_subscriptions_events_are_logged_and_nothing_is_delivered(alice):
    post_message(alice, RoomFactory(account=alice.user))
    assert Event.objects.filter(account=alice.user, type="message.added").exists()
    assert not Delivery.objects.exists()


def test_an_event_whose_transaction_rolls_back_delivers_nothing(alice, receiver):
    subscribe(alice, receiver.url)
    room = RoomFactory(account=alice.user)
    with pytest.raises(RuntimeError), transaction.atomic():
        message_create(account=alice.user, room=room, answer="inline", body="never committed")
        raise RuntimeError
    assert not Event.objects.exists()
    assert not Delivery.objects.exists()
    deliver()
    assert receiver.received == []


def test_the_api_request_never_waits_for_the_receiver(alice, receiver):
    receiver.default = 500
    subscribe(alice, receiver.url)
    post_message(alice, RoomFactory(account=alice.user))
    # Recorded, not sent: the request touched no network.
    assert receiver.received == []
    assert Delivery.objects.get().status == DeliveryStatus.PENDING


# Delivery ------------------------------------------------------------------------------------


def test_delivery_payload_headers_and_signature(alice, receiver):
    hook = subscribe(alice, receiver.url)
    message = post_message(alice, RoomFactory(account=alice.user), body="Where is my order?")
    deliver()
    [request] = receiver.received
    assert request.path == "/hook"
    body = request.json
    assert body["hook"] == {"uuid": hook["uuid"], "event": "message.added", "target": receiver.url}
    # The object exactly as the API renders it.
    assert body["data"] == alice.client.get(f"/api/v1/messages/{message['uuid']}/").json()
    # The automation connector reads body.data, falling back to the body.
    assert body.get("data", body)["body"] == "Where is my order?"

    delivery = Delivery.objects.get()
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers["content-type"] == "application/json"
    assert headers["askhandle-event"] == "message.added"
    assert headers["webhook-id"] == str(delivery.uuid)
    timestamp = int(headers["webhook-timestamp"])
    assert abs(timestamp - timezone.now().timestamp()) < 60
    assert verify(hook["secret"], headers["webhook-id"], timestamp, request.body,
                  headers["webhook-signature"])  # fmt: skip
    assert not verify("whsec_" + "A" * 32, headers["webhook-id"], timestamp, request.body,
                      headers["webhook-signature"])  # fmt: skip
    assert not verify(hook["secret"], headers["webhook-id"], timestamp, request.body + b" ",
                      headers["webhook-signature"])  # fmt: skip

    assert delivery.status == DeliveryStatus.SUCCEEDED
    attempt = delivery.attempts.get()
    assert (attempt.number, attempt.status_code, attempt.error) == (1, 200, "")


def test_signatures_verify_with_the_standard_webhooks_library(alice, receiver):
    from standardwebhooks.webhooks import Webhook as StandardWebhook
    from standardwebhooks.webhooks import WebhookVerificationError

    hook = subscribe(alice, receiver.url)
    post_message(alice, RoomFactory(account=alice.user), body="verify me")
    deliver()
    [request] = receiver.received
    headers = {k.lower(): v for k, v in request.headers.items()}
    verified = StandardWebhook(hook["secret"]).verify(request.body, headers)
    assert verified["data"]["body"] == "verify me"
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(hook["secret"]).verify(request.body.replace(b"me", b"us"), headers)


def test_lead_and_chat_events_carry_the_api_rendering(alice, receiver):
    subscribe(alice, receiver.url, event="lead.added")
    subscribe(alice, receiver.url, event="chat.added")
    lead = alice.client.post("/api/v1/leads/", {"email": "v@example.com"}, format="json").json()
    room = alice.client.post("/api/v1/rooms/").json()
    deliver()
    by_event = {r.json["hook"]["event"]: r.json["data"] for r in receiver.received}
    assert by_event == {"lead.added": lead, "chat.added": room}


def test_receiver_down_then_up_gets_every_event(alice, receiver, settings):
    settings.WEBHOOK_RETRY_BASE_DELAY = 60
    port = receiver.server.server_address[1]
    subscribe(alice, receiver.url)
    receiver.stop()  # the receiver is down
    room = RoomFactory(account=alice.user)
    sent = {post_message(alice, room, body=f"m{i}")["uuid"] for i in range(5)}
    deliver()
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    # Three failures in a row (WEBHOOK_TARGET_FAILURES): the target is backed off as a whole,
    # and the two other deliveries wait for the end of the backoff without an attempt.
    assert DeliveryAttempt.objects.count() == 3
    assert all(a.status_code is None and a.error for a in DeliveryAttempt.objects.all())
    hook = Webhook.objects.get()
    assert hook.target_failures == 3
    assert hook.target_backoff_until > timezone.now()
    assert all(
        at >= hook.target_backoff_until
        for at in Delivery.objects.values_list("next_attempt_at", flat=True)
    )

    receiver.start(port)  # back up, an hour later
    make_due()
    deliver()
    assert {r.json["data"]["uuid"] for r in receiver.received} == sent
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
    assert DeliveryAttempt.objects.count() == 8
    hook.refresh_from_db()
    assert (hook.target_failures, hook.target_backoff_until) == (0, None)  # healthy again


def test_server_errors_are_retried_until_success(alice, receiver, fast_retries):
    receiver.answers = [500, 503]
    subscribe(alice, receiver.url)
    post_message(alice, RoomFactory(account=alice.user))
    deliver()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert [(a.number, a.status_code) for a in delivery.attempts.all()] == [
        (1, 500), (2, 503), (3, 200),
    ]  # fmt: skip
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # same id each time


def test_429_is_retried_no_sooner_than_retry_after(alice, receiver, settings):
    settings.WEBHOOK_RETRY_BASE_DELAY = 1
    receiver.answers = [(429, {"Retry-After": "120"})]
    subscribe(alice, receiver.url)
    post_message(alice, RoomFactory(account=alice.user))
    before = timezone.now()
    deliver()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert (delivery.next_attempt_at - before).total_seconds() >= 119


def test_retry_delays_grow_exponentially_with_jitter(settings):
    from webhooks.services import retry_delay

    settings.WEBHOOK_RETRY_BASE_DELAY = 30
    settings.WEBHOOK_RETRY_MAX_DELAY = 3 * 3600
    for attempt, ceiling in [(1, 30), (2, 60), (5, 480), (20, 3 * 3600)]:
        delays = [retry_delay(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered


def test_retries_stop_after_the_retry_window(alice, receiver, settings):
    settings.WEBHOOK_RETRY_BASE_DELAY = 60
    receiver.default = 502
    subscribe(alice, receiver.url)
    post_message(alice, RoomFactory(account=alice.user))
    Delivery.objects.update(give_up_at=timezone.now())  # a day has passed
    deliver()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_error.startswith("Gave up after 1 attempts")


@pytest.mark.parametrize("status", [400, 401, 404, 422, 302])
def test_other_client_errors_and_redirects_are_not_retried(alice, receiver, fast_retries, status):
    receiver.answers = [(status, {"Location": "http://127.0.0.1:1/elsewhere"})]
    subscribe(alice, receiver.url)
    post_message(alice, RoomFactory(account=alice.user))
    deliver()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.last_status_code == status
    assert len(receiver.received) == 1


def test_410_gone_disables_the_subscription(alice, receiver, fast_retries):
    receiver.answers = [410]
    hook = subscribe(alice, receiver.url)
    room = RoomFactory(account=alice.user)
    post_message(alice, room)
    deliver()
    assert Delivery.objects.get().status == DeliveryStatus.FAILED
    shown = alice.client.get(f"/api/v1/webhooks/{hook['uuid']}/").json()
    assert shown["is_active"] is False
    assert "410 Gone" in shown["disabled_reason"]
    post_message(alice, room)  # nothing more is recorded for it
    assert Delivery.objects.count() == 1
    # The account can turn it back on.
    response = alice.client.patch(
        f"/api/v1/webhooks/{hook['uuid']}/", {"is_active": True}, format="json"
    )
    assert response.json()["is_active"] is True
    assert response.json()["disabled_reason"] == ""


def test_a_slow_receiver_times_out_and_is_retried(alice, receiver, settings):
    settings.WEBHOOK_TIMEOUT = 0.5
    settings.WEBHOOK_RETRY_BASE_DELAY = 60
    receiver.answers = [("sleep", 3)]
    subscribe(alice, receiver.url)
    post_message(alice, RoomFactory(account=alice.user))
    deliver()
    delivery = Delivery.objects.get()
    attempt = delivery.attempts.get()
    assert attempt.status_code is None
    assert attempt.error == "Timed out after 0.5 s"
    assert attempt.duration_ms < 2000
    assert delivery.status == DeliveryStatus.PENDING


def test_a_worker_that_dies_after_claiming_lets_another_attempt_again(alice, receiver):
    subscribe(alice, receiver.url)
    post_message(alice, RoomFactory(account=alice.user))
    [claimed] = worker.deliveries_claim(limit=10)  # ... and the worker dies here
    assert worker.deliveries_claim(limit=10) == []  # leased: nobody else takes it meanwhile
    Delivery.objects.update(leased_until=timezone.now())  # the lease lapses
    deliver()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert [a.number for a in delivery.attempts.all()] == [2]
    assert len(receiver.received) == 1
    assert claimed.uuid == delivery.uuid


def test_deliveries_of_a_paused_subscription_wait_for_it(alice, receiver):
    hook = subscribe(alice, receiver.url)
    post_message(alice, RoomFactory(account=alice.user))
    Webhook.objects.update(is_active=False)
    deliver()
    assert receiver.received == []
    alice.client.patch(f"/api/v1/webhooks/{hook['uuid']}/", {"is_active": True}, format="json")
    deliver()
    assert len(receiver.received) == 1


def test_rotating_the_secret_keeps_the_old_one_valid_for_a_while(alice, receiver):
    hook = subscribe(alice, receiver.url)
    response = alice.client.post(f"/api/v1/webhooks/{hook['uuid']}/rotate-secret/")
    assert response.status_code == 200
    new_secret = response.json()["secret"]
    assert new_secret != hook["secret"]
    post_message(alice, RoomFactory(account=alice.user))
    deliver()
    [request] = receiver.received
    args = (request.headers["webhook-id"], int(request.headers["webhook-timestamp"]), request.body)
    assert verify(new_secret, *args, request.headers["webhook-signature"])
    assert verify(hook["secret"], *args, request.headers["webhook-signature"])
    Webhook.objects.update(previous_secret_expires_at=timezone.now())
    receiver.received.clear()
    post_message(alice, RoomFactory(account=alice.user))
    deliver()
    [request] = receiver.received
    args = (request.headers["webhook-id"], int(request.headers["webhook-timestamp"]), request.body)
    assert verify(new_secret, *args, request.headers["webhook-signature"])
    assert not verify(hook["secret"], *args, request.headers["webhook-signature"])


# The delivery log ----------------------------------------------------------------------------


def test_delivery_log_lists_attempts_newest_first(alice, bob, receiver, fast_retries):
    receiver.answers = [500]
    hook = subscribe(alice, receiver.url)
    subscribe(bob, receiver.url)
    room = RoomFactory(account=alice.user)
    first = post_message(alice, room, body="first")
    second = post_message(alice, room, body="second")
    post_message(bob, RoomFactory(account=bob.user))
    deliver()
    response = alice.client.get(f"/api/v1/webhooks/{hook['uuid']}/deliveries/")
    assert response.status_code == 200
    page = response.json()
    assert page["count"] == 2
    assert [d["data"]["uuid"] for d in page["results"]] == [second["uuid"], first["uuid"]]
    oldest = page["results"][1]
    assert set(oldest) == {
        "id", "event", "status", "attempt_count", "last_status_code", "last_error",
        "created_at", "next_attempt_at", "completed_at", "data", "attempts",
    }  # fmt: skip
    assert oldest["status"] == "succeeded"
    assert oldest["next_attempt_at"] is None
    assert [(a["number"], a["status_code"]) for a in oldest["attempts"]] == [(1, 500), (2, 200)]
    assert oldest["attempts"][0]["error"] == "HTTP 500 Internal Server Error"
    assert isinstance(oldest["attempts"][0]["duration_ms"], int)

    filtered = alice.client.get(f"/api/v1/webhooks/{hook['uuid']}/deliveries/?status=failed")
    assert filtered.json()["count"] == 0
    bad = alice.client.get(f"/api/v1/webhooks/{hook['uuid']}/deliveries/?status=lost")
    assert bad.status_code == 400
    assert list(bad.json()) == ["status"]
    limited = alice.client.get(f"/api/v1/webhooks/{hook['uuid']}/deliveries/?limit=1").json()
    assert len(limited["results"]) == 1
    assert limited["next"]


def test_delivery_log_query_count_is_constant(
    alice, receiver, fast_retries, django_assert_num_queries, no_rate_limits
):
    hook = subscribe(alice, receiver.url)
    room = RoomFactory(account=alice.user)
    for _ in range(3):
        post_message(alice, room)
    deliver()
    url = f"/api/v1/webhooks/{hook['uuid']}/deliveries/"
    alice.client.get(url)
    # key, webhook, count, page, attempts
    with django_assert_num_queries(5):
        assert len(alice.client.get(url).json()["results"]) == 3


def test_redeliver_sends_again_with_the_same_id(alice, bob, receiver):
    hook = subscribe(alice, receiver.url)
    post_message(alice, RoomFactory(account=alice.user))
    deliver()
    delivery = Delivery.objects.get()
    url = f"/api/v1/webhooks/{hook['uuid']}/deliveries/{delivery.uuid}/redeliver/"
    assert bob.client.post(url).status_code == 404
    other = (
        f"/api/v1/webhooks/{hook['uuid']}/deliveries/{'1' * 8}-1111-4111-8111-{'1' * 12}/redeliver/"
    )
    assert alice.client.post(other).status_code == 404
    response = alice.client.post(url)
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    deliver()
    assert [r.headers["webhook-id"] for r in receiver.received] == [str(delivery.uuid)] * 2
    assert [a.number for a in delivery.attempts.all()] == [1, 2]


def test_redeliver_while_in_flight_is_a_conflict(alice, receiver):
    hook = subscribe(alice, receiver.url)
    post_message(alice, RoomFactory(account=alice.user))
    [delivery] = worker.deliveries_claim(limit=1)
    url = f"/api/v1/webhooks/{hook['uuid']}/deliveries/{delivery.uuid}/redeliver/"
    response = alice.client.post(url)
    assert response.status_code == 409
    assert response.json() == {
        "detail": "This delivery is being attempted right now; try again in a minute."
    }


# Several workers -----------------------------------------------------------------------------


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="several workers need a server database (the in-memory SQLite test database locks "
    "whole tables across threads)",
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_send_the_same_attempt_twice(make_account, receiver, settings):
    # The fairness limits raised, so that the twelve senders all race for the same deliveries.
    settings.WEBHOOK_ACCOUNT_CONCURRENCY = settings.WEBHOOK_TARGET_CONCURRENCY = 12
    alice = make_account("alice")
    subscribe(alice, receiver.url)
    subscribe(alice, receiver.url)
    room = RoomFactory(account=alice.user)
    for i in range(60):
        message_create(account=alice.user, room=room, answer="inline", body=f"m{i}")

    deliver_in_threads(workers=3, concurrency=4)
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 120
    assert len(set(ids)) == 120
    assert DeliveryAttempt.objects.count() == 120
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the worker process needs a shared database"
)
@pytest.mark.django_db(transaction=True)
def test_worker_process_killed_mid_delivery_is_retried_by_the_next_one(make_account, receiver):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DATABASE_POOL": "0",
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "1",
    }
    command = [sys.executable, "manage.py", "webhook_worker", "--concurrency", "1"]
    cwd = Path(__file__).resolve().parent.parent

    alice = make_account("alice")
    subscribe(alice, receiver.url)
    receiver.answers = [("sleep", 30)]  # the first attempt hangs ...
    message_create(
        account=alice.user, room=RoomFactory(account=alice.user), answer="inline", body="hi"
    )
    process = subprocess.Popen([*command, "--poll-interval", "0.05"], cwd=cwd, env=env)
    try:
        deadline = time.monotonic() + 30
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(receiver.received) == 1
    finally:
        process.send_signal(signal.SIGKILL)  # ... and its worker dies mid-request
        process.wait()
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.leased_until > timezone.now()
    # The attempt the receiver got is in the log, written before the request was sent.
    [attempt] = delivery.attempts.all()
    assert (attempt.number, attempt.duration_ms, attempt.status_code) == (1, None, None)

    Delivery.objects.update(leased_until=timezone.now())  # the lease lapses
    subprocess.run([*command, "--once"], cwd=cwd, env=env, check=True, timeout=60)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert [(a.number, a.status_code, a.error) for a in delivery.attempts.all()] == [
        (1, None, worker.INTERRUPTED),
        (2, 200, ""),
    ]
    response = alice.client.get(f"/api/v1/webhooks/{delivery.webhook.uuid}/deliveries/")
    attempts = response.json()["results"][0]["attempts"]
    assert [(a["number"], a["duration_ms"], a["error"]) for a in attempts] == [
        (1, None, worker.INTERRUPTED),
        (2, attempts[1]["duration_ms"], ""),
    ]
    assert attempts[1]["duration_ms"] is not None
    assert [r.headers["webhook-id"] for r in receiver.received] == [str(delivery.uuid)] * 2


def test_finished_deliveries_are_pruned_after_the_retention_period(alice, receiver, settings):
    settings.WEBHOOK_LOG_RETENTION_DAYS = 30
    subscribe(alice, receiver.url)
    room = RoomFactory(account=alice.user)
    post_message(alice, room)
    deliver()
    old = timezone.now() - timezone.timedelta(days=31)
    Delivery.objects.update(completed_at=old)
    Event.objects.update(created_at=old)
    receiver.default = 500
    settings.WEBHOOK_RETRY_BASE_DELAY = 60
    post_message(alice, room)  # pending: kept whatever its age
    Delivery.objects.filter(status=DeliveryStatus.PENDING).update(created_at=old)
    assert worker.deliveries_prune() == 2  # the old delivery and its attempt
    assert list(Delivery.objects.values_list("status", flat=True)) == [DeliveryStatus.PENDING]
    assert Event.objects.count() == 1


def test_webhook_filters_and_target_updates_are_checked(alice, receiver, settings):
    subscribe(alice, receiver.url, event="lead.added")
    hook = subscribe(alice, receiver.url, event="chat.added")
    assert alice.client.get("/api/v1/webhooks/?event=chat.added").json()["count"] == 1
    assert alice.client.get("/api/v1/webhooks/?is_active=false").json()["count"] == 0
    assert alice.client.get("/api/v1/webhooks/?event=nope").status_code == 400
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    response = alice.client.patch(
        f"/api/v1/webhooks/{hook['uuid']}/", {"target": "http://10.0.0.1/x"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"target": ["The target must be a public address."]}
    assert Webhook.objects.get(uuid=hook["uuid"]).target == receiver.url


def test_webhook_list_query_count(alice, receiver, django_assert_num_queries, no_rate_limits):
    for event in ["lead.added", "chat.added", "message.added"]:
        subscribe(alice, receiver.url, event=event)
    alice.client.get("/api/v1/webhooks/")
    with django_assert_num_queries(3):  # key, count, page
        assert alice.client.get("/api/v1/webhooks/").json()["count"] == 3


@pytest.mark.django_db(transaction=True)  # the worker may close its connection, as in production
def test_the_worker_survives_a_database_outage(monkeypatch, caplog):
    from django.db import OperationalError

    calls = []

    def unavailable(*, limit):
        calls.append(limit)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(worker, "deliveries_claim", unavailable)
    stops = iter([False, False, True])
    worker.run(concurrency=1, poll_interval=0.01, should_stop=lambda: next(stops))
    assert len(calls) == 2
    assert "database unavailable" in caplog.text
