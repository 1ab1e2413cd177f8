"""accounts.lookup.active_api_key (the hand-written query of every request) against the ORM
queryset it stands for: same answer, same field values, for every state a key can be in."""

import datetime as dt

from django.db import models
from django.utils import timezone

from accounts.lookup import active_api_key
from accounts.models import ApiKey, api_key_digest
from accounts.services import api_key_issue


def orm_lookup(digest):
    return ApiKey.objects.active().select_related("user").filter(digest=digest).first()


def field_values(instance):
    return {
        field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields
    }


def assert_same(digest):
    expected, found = orm_lookup(digest), active_api_key(digest)
    if expected is None:
        assert found is None
        return
    assert found is not None
    assert field_values(found) == field_values(expected)
    assert field_values(found.user) == field_values(expected.user)
    # Loaded as the ORM loads them: from the database, typed (aware datetimes, booleans).
    assert not found._state.adding and not found.user._state.adding
    for instance in (found, found.user):
        for field in instance._meta.concrete_fields:
            value = getattr(instance, field.attname)
            if isinstance(field, models.DateTimeField) and value is not None:
                assert isinstance(value, dt.datetime) and value.tzinfo is not None
            if isinstance(field, models.BooleanField):
                assert isinstance(value, bool)


def test_the_lookup_answers_as_the_orm_in_every_state(alice, bob):
    key = ApiKey.objects.get(user=alice.user)
    digest = api_key_digest(alice.key)
    assert_same(digest)  # active, never used
    assert active_api_key(digest).pk == key.pk

    alice.client.get("/api/v1/leads/")  # last_used_at set
    alice.user.last_login = timezone.now()
    alice.user.first_name = "Ålice"
    alice.user.save()
    assert_same(digest)
    assert active_api_key(digest).user.first_name == "Ålice"

    assert_same(api_key_digest("not a key"))
    assert active_api_key(api_key_digest("not a key")) is None

    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    assert_same(digest)
    assert active_api_key(digest) is None

    _, other = api_key_issue(user=bob.user)
    bob.user.is_active = False
    bob.user.save()
    assert_same(api_key_digest(other))
    assert active_api_key(api_key_digest(other)) is None
    bob.user.is_active = True
    bob.user.save()
    assert active_api_key(api_key_digest(other)).user == bob.user


def test_revocation_applies_to_the_very_next_request(alice):
    # No caching of keys between requests: the lookup asks the database every time.
    assert alice.client.get("/api/v1/leads/").status_code == 200
    ApiKey.objects.filter(user=alice.user).update(revoked_at=timezone.now())
    assert alice.client.get("/api/v1/leads/").status_code == 401
