"""What one account can make the webhook machinery do: a bounded number of subscriptions (and so
of deliveries per event), only public targets (IPv6 forms of private IPv4 addresses included),
and no signing secret handed out again once it changed."""

import pytest
from django.db import connection

from idempotency.models import IdempotencyKey
from tests.factories import RoomFactory
from tests.test_webhooks import post_message
from webhooks.models import Delivery, Webhook
from webhooks.safety import address_is_public

QUOTA_ERROR = (
    "Limit reached: an account has at most {} webhook subscriptions (WEBHOOKS_PER_ACCOUNT)."
)


def create(account, target, **headers):
    return account.client.post(
        "/api/v1/webhooks/",
        {"event": "message.added", "target": target},
        format="json",
        headers=headers,
    )


# Quota ----------------------------------------------------------------------------------------


def test_subscriptions_beyond_the_quota_are_refused_naming_the_limit(
    alice, bob, receiver, no_rate_limits
):
    """The default quota (20) also bounds what one message fans out to: 20 deliveries."""
    for n in range(20):
        assert create(alice, f"{receiver.url}/{n}").status_code == 201
    response = create(alice, receiver.url)
    assert response.status_code == 400
    assert response.json() == {"detail": QUOTA_ERROR.format(20)}
    assert Webhook.objects.filter(account=alice.user).count() == 20

    post_message(alice, RoomFactory(account=alice.user))
    assert Delivery.objects.count() == 20  # not 2,000

    assert create(bob, receiver.url).status_code == 201  # another account's quota is its own
    # Deleting one makes room for one.
    first = Webhook.objects.filter(account=alice.user).first()
    assert alice.client.delete(f"/api/v1/webhooks/{first.uuid}/").status_code == 204
    assert create(alice, receiver.url).status_code == 201
    assert create(alice, receiver.url).status_code == 400


def test_the_quota_is_a_setting(alice, receiver, settings):
    settings.WEBHOOKS_PER_ACCOUNT = 2
    assert create(alice, receiver.url).status_code == 201
    assert create(alice, receiver.url).status_code == 201
    response = create(alice, receiver.url)
    assert response.json() == {"detail": QUOTA_ERROR.format(2)}


def test_the_admin_keeps_the_quota_too(admin_client, alice, receiver, settings):
    settings.WEBHOOKS_PER_ACCOUNT = 1
    form = {"account": alice.user.pk, "event": "lead.added", "target": receiver.url,
            "is_active": "on", "disabled_reason": ""}  # fmt: skip
    assert admin_client.post("/admin/webhooks/webhook/add/", form).status_code == 302
    response = admin_client.post("/admin/webhooks/webhook/add/", form)
    assert response.status_code == 200
    assert QUOTA_ERROR.format(1).encode() in response.content
    assert Webhook.objects.count() == 1


def test_one_message_fans_out_to_at_most_subscriptions_times_notifications(
    alice, receiver, settings
):
    """WEBHOOKS_PER_ACCOUNT x KEYWORD_NOTIFICATIONS_PER_MESSAGE bounds one message's deliveries."""
    settings.WEBHOOKS_PER_ACCOUNT = 3
    settings.KEYWORD_NOTIFICATIONS_PER_MESSAGE = 2
    for word in ["alpha", "bravo", "charlie"]:
        response = alice.client.post("/api/v1/keywords/", {"keyword": word}, format="json")
        assert response.status_code == 201
    for n, event in enumerate(["keyword_notification.added"] * 2 + ["message.added"]):
        response = alice.client.post(
            "/api/v1/webhooks/", {"event": event, "target": f"{receiver.url}/{n}"}, format="json"
        )
        assert response.status_code == 201
    assert create(alice, receiver.url).status_code == 400  # the quota: no fourth subscription

    post_message(alice, RoomFactory(account=alice.user), body="alpha bravo charlie")
    # 2 notifications (the cap) x 2 subscriptions, and the message itself x 1.
    assert Delivery.objects.count() == 2 * 2 + 1
    assert Delivery.objects.count() <= 3 * 2


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent requests need a server database"
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_cannot_pass_the_quota_together(make_account, receiver, settings):
    import threading

    settings.WEBHOOKS_PER_ACCOUNT = 3
    settings.API_KEY_THROTTLE_RATE = settings.CLIENT_ADDRESS_THROTTLE_RATE = "off"
    alice = make_account("alice")
    statuses = []

    def one(n):
        statuses.append(create(alice, f"{receiver.url}/{n}").status_code)
        connection.close()

    threads = [threading.Thread(target=one, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] * 3 + [400] * 5
    assert Webhook.objects.count() == 3


# IPv6 forms of IPv4 addresses -----------------------------------------------------------------

NOT_PUBLIC = [
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:a9fe:a9fe",  # IPv4-mapped, hex: 169.254.169.254
    "::127.0.0.1",  # IPv4-compatible
    "::a00:1",  # IPv4-compatible 10.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata address 169.254.169.254
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::c0a8:1",  # NAT64 of 192.168.0.1
    "64:ff9b:1::808:808",  # local-use NAT64: refused whatever it carries
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo (client 192.0.2.45)
    "2001:0:7f00:1::1",  # Teredo with server 127.0.0.1
    "fec0::1",  # site-local
    "fec0:0:0:ffff::1",  # site-local (the old DNS resolver address)
]
PUBLIC = [
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "2606:4700:4700::1111",  # plain global IPv6
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_ipv6_forms_of_non_public_addresses_are_refused(alice, settings, address):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    assert not address_is_public(address)  # the check made again at every delivery
    response = create(alice, f"http://[{address}]/hook")
    assert response.status_code == 400
    assert response.json() == {"target": ["The target must be a public address."]}
    assert not Webhook.objects.exists()


@pytest.mark.parametrize("address", PUBLIC)
def test_ipv6_forms_of_public_addresses_are_accepted(alice, settings, address):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    assert address_is_public(address)
    assert create(alice, f"http://[{address}]/hook").status_code == 201


# Idempotent replays and the secret ------------------------------------------------------------


def test_a_replayed_create_shows_the_secret_while_it_is_unchanged(alice, bob, receiver):
    first = create(alice, receiver.url, **{"Idempotency-Key": "k1"})
    assert first.status_code == 201
    again = create(alice, receiver.url, **{"Idempotency-Key": "k1"})
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Webhook.objects.count() == 1
    # The stored answer keeps a digest of the secret, never the secret itself.
    stored = IdempotencyKey.objects.get()
    assert "secret" not in stored.response_body
    assert first.json()["secret"] not in str(stored.response_body)
    # Keys are per account: bob's "k1" is his own create.
    assert (
        create(bob, receiver.url, **{"Idempotency-Key": "k1"}).json()["uuid"]
        != (first.json()["uuid"])
    )


def test_a_replay_after_the_secret_was_rotated_is_a_conflict(alice, receiver):
    first = create(alice, receiver.url, **{"Idempotency-Key": "k1"}).json()
    rotated = alice.client.post(f"/api/v1/webhooks/{first['uuid']}/rotate-secret/")
    assert rotated.status_code == 200
    again = create(alice, receiver.url, **{"Idempotency-Key": "k1"})
    assert again.status_code == 409
    assert again.json() == {
        "detail": "The signing secret of the webhook created with this Idempotency-Key has been "
        "rotated since; the old one is not shown again (rotate-secret shows a new one)."
    }
    assert first["secret"] not in again.content.decode()
    assert rotated.json()["secret"] not in again.content.decode()
    assert Webhook.objects.count() == 1


def test_a_replay_after_the_webhook_was_deleted_is_a_conflict(alice, receiver):
    first = create(alice, receiver.url, **{"Idempotency-Key": "k1"}).json()
    assert alice.client.delete(f"/api/v1/webhooks/{first['uuid']}/").status_code == 204
    again = create(alice, receiver.url, **{"Idempotency-Key": "k1"})
    assert again.status_code == 409
    assert again.json() == {
        "detail": "The webhook created with this Idempotency-Key has been deleted since; its "
        "signing secret is not shown again."
    }
    assert first["secret"] not in again.content.decode()
    assert not Webhook.objects.exists()  # and nothing is created again


def test_answers_stored_with_the_secret_before_are_replayed_the_same_way(alice, receiver):
    """Keys recorded before this change hold the secret in their stored answer."""
    first = create(alice, receiver.url, **{"Idempotency-Key": "k1"}).json()
    stored = IdempotencyKey.objects.get()
    stored.response_body = first  # as it used to be stored
    stored.save()
    assert create(alice, receiver.url, **{"Idempotency-Key": "k1"}).json() == first
    alice.client.post(f"/api/v1/webhooks/{first['uuid']}/rotate-secret/")
    assert create(alice, receiver.url, **{"Idempotency-Key": "k1"}).status_code == 409
