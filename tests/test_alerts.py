"""Email alerts to the account: a hand-off and a keyword notification, sent by the task worker
after the message's transaction commits (accounts.services.account_alert_send)."""

import smtplib

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from accounts.models import User
from bot.models import HandOff
from keywords.models import Keyword
from messaging.models import Message
from messaging.reactions import Answering
from messaging.services import message_create

from .factories import RoomFactory

# Committed for real: the worker closes the connection between tasks, and "after the commit" is
# then what it says.
pytestmark = pytest.mark.django_db(transaction=True)

UNANSWERABLE = "Can I pay with Bitcoin on Saturdays?"


def run_worker():
    Worker(
        queue_names=["default"], interval=0, batch=True, backend_name="default",
        startup_delay=False, max_tasks=None, worker_id="test", excluded_queue_names=[],
    ).run()  # fmt: skip


def post(account, room, body):
    response = account.client.post(
        "/api/v1/messages/", {"body": body, "room": {"uuid": str(room.uuid)}}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "alerts@askhandle.test"


@pytest.fixture
def with_emails(alice, bob):
    User.objects.filter(pk=alice.user.pk).update(email="team@alice.test")
    User.objects.filter(pk=bob.user.pk).update(email="team@bob.test")
    alice.user.refresh_from_db()
    bob.user.refresh_from_db()


def test_a_hand_off_emails_the_account_after_the_commit(alice, bob, with_emails):
    room = RoomFactory(account=alice.user, is_bot_use=True, label="pay", name="Payments")
    post(alice, room, UNANSWERABLE)
    assert HandOff.objects.count() == 1
    # Queued with the message, sent by the worker: not in the request.
    assert mail.outbox == []
    [task] = DBTaskResult.objects.all()
    assert task.args_kwargs["kwargs"]["account_id"] == alice.user.pk
    run_worker()
    [email] = mail.outbox
    assert email.to == ["team@alice.test"]
    assert email.from_email == "alerts@askhandle.test"
    assert email.subject == "A conversation needs a person: Payments"
    assert UNANSWERABLE in email.body and "'pay'" in email.body


def test_a_keyword_notification_emails_the_account_once_per_message(alice, bob, with_emails):
    for word in ["refund", "broken"]:
        Keyword.objects.create(account=alice.user, keyword=word, normalized=word)
    Keyword.objects.create(account=bob.user, keyword="refund", normalized="refund")
    room = RoomFactory(account=alice.user, label="orders")
    post(alice, room, "My blender arrived broken, I want a refund.")
    run_worker()
    [email] = mail.outbox
    assert email.to == ["team@alice.test"]  # never bob's, whose keyword it is too
    assert email.subject == f"Keyword 'broken', 'refund' in {room.name}"
    assert "My blender arrived broken, I want a refund." in email.body
    # Support messages record no notification, so they send no alert.
    message_create(
        account=alice.user,
        room=room,
        answer=Answering.BACKGROUND,
        body="Your refund is on its way.",
        is_support_sender=True,
    )
    run_worker()
    assert len(mail.outbox) == 1


def test_each_account_gets_its_own_alerts(alice, bob, with_emails):
    post(alice, RoomFactory(account=alice.user, is_bot_use=True), UNANSWERABLE)
    post(bob, RoomFactory(account=bob.user, is_bot_use=True), UNANSWERABLE)
    run_worker()
    assert sorted(email.to[0] for email in mail.outbox) == ["team@alice.test", "team@bob.test"]


def test_a_rolled_back_message_sends_nothing(alice, with_emails):
    room = RoomFactory(account=alice.user, is_bot_use=True)
    with pytest.raises(RuntimeError), transaction.atomic():
        message_create(account=alice.user, room=room, answer=Answering.INLINE, body=UNANSWERABLE)
        assert DBTaskResult.objects.count() == 1
        raise RuntimeError("rolled back")
    assert (Message.objects.count(), DBTaskResult.objects.count()) == (0, 0)
    run_worker()
    assert mail.outbox == []


def test_an_account_without_an_email_gets_no_alert(alice):
    assert alice.user.email == ""
    post(alice, RoomFactory(account=alice.user, is_bot_use=True), UNANSWERABLE)
    assert DBTaskResult.objects.count() == 0


def test_alerts_can_be_turned_off(alice, with_emails, settings):
    settings.ALERT_EMAILS = False
    post(alice, RoomFactory(account=alice.user, is_bot_use=True), UNANSWERABLE)
    assert DBTaskResult.objects.count() == 0


def test_alerts_are_capped_per_account_and_hour(alice, bob, with_emails, settings):
    settings.ALERT_EMAILS_PER_HOUR = 2
    for _ in range(3):
        post(alice, RoomFactory(account=alice.user, is_bot_use=True), UNANSWERABLE)
    post(bob, RoomFactory(account=bob.user, is_bot_use=True), UNANSWERABLE)
    run_worker()
    assert sorted(email.to[0] for email in mail.outbox) == [
        "team@alice.test",
        "team@alice.test",
        "team@bob.test",  # alice's flood does not use up bob's alerts
    ]
    assert HandOff.objects.filter(account=alice.user).count() == 3  # the hand-offs stay


def test_a_mail_server_that_fails_is_tried_again_later(alice, with_emails, monkeypatch):
    from accounts import tasks

    def refused(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("down")

    monkeypatch.setattr(tasks, "send_mail", refused)
    post(alice, RoomFactory(account=alice.user, is_bot_use=True), UNANSWERABLE)
    run_worker()
    follow_up = DBTaskResult.objects.get(status="READY")
    assert follow_up.args_kwargs["kwargs"]["attempt"] == 2
    monkeypatch.undo()
    DBTaskResult.objects.filter(pk=follow_up.pk).update(run_after=timezone.now())
    run_worker()
    assert [email.to for email in mail.outbox] == [["team@alice.test"]]
