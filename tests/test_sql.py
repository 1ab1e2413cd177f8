"""askhandle.api.sql (hot-path lookups written out) answers as the ORM does, on both databases."""

import uuid

from django.utils import timezone

from askhandle.api.sql import select_one, select_rows
from keywords.models import Keyword
from rooms.models import Room
from webhooks.models import Webhook

from .factories import RoomFactory


def field_values(instance):
    return {
        field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields
    }


def test_select_one_is_the_orms_first_field_by_field(alice, bob):
    room = RoomFactory(account=alice.user, rating=4, greeting_message="Hi, Ålice")
    RoomFactory(account=bob.user)

    found = select_one(Room, account_id=alice.user.pk, uuid=room.uuid)
    expected = Room.objects.filter(account=alice.user, uuid=room.uuid).first()

    assert field_values(found) == field_values(expected)
    assert {k: type(v) for k, v in field_values(found).items()} == {
        k: type(v) for k, v in field_values(expected).items()
    }
    assert found._state.adding is False and found._state.db == "default"
    # Another account's room, and no room at all, are the same: None.
    assert select_one(Room, account_id=bob.user.pk, uuid=room.uuid) is None
    assert select_one(Room, account_id=alice.user.pk, uuid=uuid.uuid4()) is None
    # The uuid as a string works as with the ORM.
    assert select_one(Room, account_id=alice.user.pk, uuid=str(room.uuid)).pk == room.pk


def test_select_rows_is_the_orms_values_list(alice, bob):
    def hook(user, event, active=True):
        return Webhook.objects.create(
            account=user, event=event, target="https://example.com/h", secret="s", is_active=active
        )

    hooks = [hook(alice.user, "message.added"), hook(alice.user, "message.added")]
    hook(alice.user, "message.added", active=False)
    hook(alice.user, "lead.added")
    hook(bob.user, "message.added")
    for user, word in [(alice.user, "Refund"), (alice.user, "Ça va"), (bob.user, "x")]:
        Keyword.objects.create(account=user, keyword=word, normalized=word.casefold())

    ids = select_rows(
        Webhook, ["id"], account_id=alice.user.pk, event="message.added", is_active=True
    )
    assert (
        sorted(ids)
        == sorted(
            Webhook.objects.filter(
                account=alice.user, event="message.added", is_active=True
            ).values_list("id")
        )
        == sorted((h.pk,) for h in hooks)
    )

    words = select_rows(Keyword, ["normalized", "keyword"], account_id=alice.user.pk)
    assert sorted(words) == sorted(
        Keyword.objects.filter(account=alice.user).values_list("normalized", "keyword")
    )
    assert select_rows(Keyword, ["keyword"], account_id=0) == []


def test_select_rows_converts_values_as_the_orm(alice):
    hook = Webhook.objects.create(
        account=alice.user,
        event="lead.added",
        target="https://e.com",
        secret="s",
        previous_secret_expires_at=timezone.now(),
    )
    columns = ["uuid", "created_at", "previous_secret_expires_at", "is_active"]
    assert select_rows(Webhook, columns, account_id=alice.user.pk) == list(
        Webhook.objects.filter(pk=hook.pk).values_list(*columns)
    )
