"""Fair delivery: one account's slow, failing or black-holed targets do not delay another's
deliveries; a target that keeps failing is backed off as a whole; an attempt whose worker died
stays in the log."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from messaging.services import message_create
from tests.factories import RoomFactory
from tests.receiver import BlackHole, Receiver
from tests.test_webhooks import deliver, deliver_in_threads, make_due, post_message, subscribe
from webhooks import worker
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Event, Webhook


def backlog(webhook: Webhook, count: int, *, age: float = 60) -> None:
    """`count` deliveries of `webhook`, due for `age` seconds already (older than anything new)."""
    due = timezone.now() - timedelta(seconds=age)
    events = Event.objects.bulk_create(
        Event(account_id=webhook.account_id, type=webhook.event, data={"n": n}, created_at=due)
        for n in range(count)
    )
    Delivery.objects.bulk_create(
        Delivery(
            webhook=webhook,
            event=event,
            next_attempt_at=due,
            give_up_at=due + timedelta(days=1),
            created_at=due,
        )
        for event in events
    )


def claimed_per_target(claimed):
    counts = {}
    for delivery in claimed:
        key = (delivery.webhook.account_id, delivery.webhook.target)
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_claims_keep_each_account_and_target_to_its_limit(alice, bob, receiver, settings):
    settings.WEBHOOK_ACCOUNT_CONCURRENCY = 2
    settings.WEBHOOK_TARGET_CONCURRENCY = 1
    hooks = [
        Webhook.objects.get(uuid=subscribe(alice, f"{receiver.url}/{n}")["uuid"]) for n in range(3)
    ]
    for hook in hooks:
        backlog(hook, 100, age=120)  # alice's 300 come first in the queue
    bobs = Webhook.objects.get(uuid=subscribe(bob, receiver.url)["uuid"])
    backlog(bobs, 2)

    claimed = worker.deliveries_claim(limit=10)
    per_target = claimed_per_target(claimed)
    assert sorted(per_target.values()) == [1, 1, 1]  # one per target ...
    assert sum(n for (account, _), n in per_target.items() if account == alice.user.pk) == 2
    assert (bob.user.pk, receiver.url) in per_target  # ... bob's past alice's 300
    # Everyone is at a limit now (across workers: the limits count leases in the database).
    assert worker.deliveries_claim(limit=10) == []

    # One of alice's attempts ends: she gets one more slot, on a target she is not using.
    done = next(d for d in claimed if d.webhook.account_id == alice.user.pk)
    Delivery.objects.filter(pk=done.pk).update(leased_until=None, status=DeliveryStatus.SUCCEEDED)
    [again] = worker.deliveries_claim(limit=10)
    assert again.webhook.account_id == alice.user.pk
    busy = {d.webhook.target for d in claimed if d.webhook.account_id == alice.user.pk}
    assert again.webhook.target == done.webhook.target or again.webhook.target not in busy


def test_a_lapsed_lease_no_longer_counts_as_in_flight(alice, receiver, settings):
    settings.WEBHOOK_TARGET_CONCURRENCY = 1
    hook = Webhook.objects.get(uuid=subscribe(alice, receiver.url)["uuid"])
    backlog(hook, 3)
    assert len(worker.deliveries_claim(limit=10)) == 1
    assert worker.deliveries_claim(limit=10) == []
    Delivery.objects.update(leased_until=timezone.now())  # that worker died; its lease lapsed
    assert len(worker.deliveries_claim(limit=10)) == 1


def test_a_failing_target_is_backed_off_as_a_whole_and_retried_later(alice, receiver, settings):
    settings.WEBHOOK_RETRY_BASE_DELAY = 60
    failing = Receiver(default=503).start()
    try:
        subscribe(alice, failing.url)
        subscribe(alice, receiver.url)  # a healthy target of the same account
        room = RoomFactory(account=alice.user)
        for n in range(5):
            post_message(alice, room, body=f"m{n}")
        deliver()
        # Three failures in a row (WEBHOOK_TARGET_FAILURES), then none of its deliveries is
        # attempted until the backoff ends; the healthy target got everything.
        assert len(failing.received) == 3
        assert len(receiver.received) == 5
        hook = Webhook.objects.get(target=failing.url)
        assert hook.target_failures == 3
        assert 25 <= (hook.target_backoff_until - timezone.now()).total_seconds() <= 60
        waiting = Delivery.objects.filter(webhook=hook)
        assert set(waiting.values_list("status", flat=True)) == {DeliveryStatus.PENDING}
        assert all(
            at >= hook.target_backoff_until
            for at in waiting.values_list("next_attempt_at", flat=True)
        )
        assert sorted(waiting.values_list("attempt_count", flat=True)) == [0, 0, 1, 1, 1]
        deliver()  # still backed off
        assert len(failing.received) == 3

        # The backoff ends, the target has recovered: everything is delivered, nothing dropped.
        failing.default = 200
        make_due()
        deliver()
        assert len(failing.received) == 8
        assert set(waiting.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
        hook.refresh_from_db()
        assert (hook.target_failures, hook.target_backoff_until) == (0, None)
    finally:
        failing.stop()


def test_a_target_that_stays_down_is_backed_off_longer_each_time(alice, receiver, settings):
    settings.WEBHOOK_RETRY_BASE_DELAY = 60
    settings.WEBHOOK_TARGET_FAILURES = 1
    receiver.default = 500
    hook = Webhook.objects.get(uuid=subscribe(alice, receiver.url)["uuid"])
    backlog(hook, 3)
    backoffs = []
    for _ in range(3):
        make_due()
        deliver()
        hook.refresh_from_db()
        backoffs.append((hook.target_backoff_until - timezone.now()).total_seconds())
    assert len(receiver.received) == 3  # one probe per backoff
    # retry_delay(1, 2, 3): 30-60 s, 60-120 s, 120-240 s (jittered).
    assert 25 < backoffs[0] <= 60 and 55 < backoffs[1] <= 120 and 115 < backoffs[2] <= 240


def test_redeliver_and_a_new_target_lift_the_backoff(alice, receiver, settings):
    settings.WEBHOOK_RETRY_BASE_DELAY = 60
    settings.WEBHOOK_TARGET_FAILURES = 1
    receiver.answers = [500]
    created = subscribe(alice, receiver.url)
    post_message(alice, RoomFactory(account=alice.user))
    deliver()
    hook = Webhook.objects.get()
    assert hook.target_backoff_until is not None
    delivery = Delivery.objects.get()
    response = alice.client.post(
        f"/api/v1/webhooks/{created['uuid']}/deliveries/{delivery.uuid}/redeliver/"
    )
    assert response.status_code == 202
    deliver()  # asked for now: attempted now
    assert Delivery.objects.get().status == DeliveryStatus.SUCCEEDED

    Webhook.objects.update(
        target_failures=5, target_backoff_until=timezone.now() + timedelta(hours=1)
    )
    response = alice.client.patch(
        f"/api/v1/webhooks/{created['uuid']}/", {"target": f"{receiver.url}/new"}, format="json"
    )
    assert response.status_code == 200
    hook.refresh_from_db()
    assert (hook.target_failures, hook.target_backoff_until) == (0, None)


def test_an_attempt_whose_worker_dies_stays_in_the_log(alice, receiver, monkeypatch):
    created = subscribe(alice, receiver.url)
    post_message(alice, RoomFactory(account=alice.user))
    [claimed] = worker.deliveries_claim(limit=1)

    class Killed(BaseException):
        """The process dies while the request is out (SIGKILL, the machine stops)."""

    def dies(*args):
        raise Killed

    monkeypatch.setattr(worker.transport, "post", dies)
    with pytest.raises(Killed):
        worker.delivery_send(claimed)
    monkeypatch.undo()
    log = f"/api/v1/webhooks/{created['uuid']}/deliveries/"
    [attempt] = alice.client.get(log).json()["results"][0]["attempts"]
    assert (attempt["number"], attempt["duration_ms"], attempt["status_code"]) == (1, None, None)
    assert attempt["error"] == ""  # in flight, as far as anyone can tell yet

    Delivery.objects.update(leased_until=timezone.now())  # the lease lapses
    deliver()
    attempts = alice.client.get(log).json()["results"][0]["attempts"]
    assert [(a["number"], a["status_code"], a["error"]) for a in attempts] == [
        (1, None, worker.INTERRUPTED),
        (2, 200, ""),
    ]
    assert DeliveryAttempt.objects.filter(duration_ms__isnull=True).count() == 1


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the worker process needs a shared database"
)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("targets", [1, 2])
def test_an_account_whose_targets_never_answer_does_not_delay_another(
    make_account, receiver, targets
):
    """300 deliveries of alice to a server that accepts and never answers (10 s timeout, 4
    senders): bob's delivery, made after them, is attempted within 5 s."""
    hole = BlackHole().start()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DATABASE_POOL": "0",
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "1",
        "WEBHOOK_TIMEOUT": "10",
    }
    alice, bob = make_account("alice"), make_account("bob")
    hooks = [
        Webhook.objects.get(uuid=subscribe(alice, hole.url(f"/{n}"))["uuid"])
        for n in range(targets)
    ]
    for hook in hooks:
        backlog(hook, 300 // targets)
    subscribe(bob, receiver.url)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "webhook_worker", "--concurrency", "4"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while hole.open_connections() < targets and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hole.open_connections() == targets  # alice's attempts hang ...
        time.sleep(1)  # ... and the worker has looked at its queue again meanwhile
        started = time.monotonic()
        message_create(
            account=bob.user, room=RoomFactory(account=bob.user), answer="inline", body="hi"
        )
        while not receiver.received and time.monotonic() - started < 30:
            time.sleep(0.01)
        delay = time.monotonic() - started
        print(f"\nbob's delivery after {delay:.2f} s ({targets} black-holed target(s) of alice)")
        assert len(receiver.received) == 1
        assert delay < 5
        # Alice never held more than her limits: one attempt per target, two per account.
        assert hole.most_at_once == min(targets, 2)
        assert DeliveryAttempt.objects.filter(delivery__webhook__in=hooks).count() == targets
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        hole.stop()


def test_a_delivery_deleted_after_its_claim_is_not_sent(alice, receiver):
    created = subscribe(alice, receiver.url)
    post_message(alice, RoomFactory(account=alice.user))
    [claimed] = worker.deliveries_claim(limit=1)
    assert alice.client.delete(f"/api/v1/webhooks/{created['uuid']}/").status_code == 204
    assert worker.delivery_send(claimed) is None
    assert receiver.received == []
    assert not DeliveryAttempt.objects.exists()


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="several workers need a server database (the in-memory SQLite test database locks "
    "whole tables across threads)",
)
@pytest.mark.django_db(transaction=True)
def test_the_limits_hold_across_workers(make_account, receiver):
    """Three workers of four senders each: alice never has more than 2 attempts in flight, nor a
    target of hers more than 1, while bob's target gets its own slot."""
    alice, bob = make_account("alice"), make_account("bob")
    alices = [f"/a{n}" for n in range(3)]
    for path in alices:
        backlog(Webhook.objects.get(uuid=subscribe(alice, receiver.url + path)["uuid"]), 10)
    backlog(Webhook.objects.get(uuid=subscribe(bob, receiver.url + "/b")["uuid"]), 10)
    receiver.answers = [("sleep", 0.05)] * 40

    deliver_in_threads(workers=3, concurrency=4)
    assert len(receiver.received) == 40
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 40
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
    assert receiver.most_at_once({f"/hook{p}" for p in alices}) == 2
    assert all(receiver.most_at_once({f"/hook{p}"}) == 1 for p in [*alices, "/b"])
