"""The same matrix for every endpoint: authentication, tenancy (another account's object is a 404,
its rows never listed), both slash forms, and the basic verbs."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from knowledge.models import KnowledgeEntry
from leads.models import Lead
from messaging.models import Message
from rooms.models import Room

from .factories import KnowledgeEntryFactory, LeadFactory, MessageFactory, RoomFactory


@dataclass
class Resource:
    name: str
    model: type
    make: Callable[[Any], Any]
    lookup: Callable[[Any], str]
    create_payload: Callable[[Any], dict]
    update_payload: dict | None  # None: the resource has no update/delete
    missing_lookup: str

    @property
    def list_url(self):
        return f"/api/v1/{self.name}/"

    def detail_url(self, obj):
        return f"{self.list_url}{self.lookup(obj)}/"


RESOURCES = [
    Resource(
        name="leads",
        model=Lead,
        make=lambda user: LeadFactory(account=user),
        lookup=lambda lead: str(lead.uuid),
        create_payload=lambda account: {"nickname": "Ann", "email": "ann@example.com"},
        update_payload={"nickname": "Changed"},
        missing_lookup=str(uuid.uuid4()),
    ),
    Resource(
        name="rooms",
        model=Room,
        make=lambda user: RoomFactory(account=user),
        lookup=lambda room: room.label,
        create_payload=lambda account: {"name": "Support"},
        update_payload={"name": "Changed"},
        missing_lookup="no-such-room",
    ),
    Resource(
        name="messages",
        model=Message,
        make=lambda user: MessageFactory(account=user),
        lookup=lambda message: str(message.uuid),
        create_payload=lambda account: {
            "body": "Hello!",
            "room": {"uuid": str(RoomFactory(account=account.user).uuid)},
        },
        update_payload=None,
        missing_lookup=str(uuid.uuid4()),
    ),
    Resource(
        name="knowledge",
        model=KnowledgeEntry,
        make=lambda user: KnowledgeEntryFactory(account=user),
        lookup=lambda entry: str(entry.uuid),
        create_payload=lambda account: {"question": "Do you ship?", "answer": "Yes."},
        update_payload={"answer": "Changed"},
        missing_lookup=str(uuid.uuid4()),
    ),
]

resources = pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.name)

NO_CREDENTIALS = {"detail": "Authentication credentials were not provided."}
INVALID_TOKEN = {"detail": "Invalid token."}
NOT_FOUND = {"detail": "Not found."}


def bad_key_client(anon):
    anon.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    return anon


@resources
@pytest.mark.parametrize("method", ["get", "post"])
def test_list_and_create_need_a_key(resource, method, alice, anon):
    response = getattr(anon, method)(resource.list_url)
    assert response.status_code == 401
    assert response.json() == NO_CREDENTIALS
    assert response["WWW-Authenticate"] == "Token"

    response = getattr(bad_key_client(anon), method)(resource.list_url)
    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN
    assert response["WWW-Authenticate"] == "Token"
    assert resource.model.objects.count() == 0


@resources
def test_detail_needs_a_key(resource, alice, anon):
    obj = resource.make(alice.user)
    methods = ["get"] + (["put", "patch", "delete"] if resource.update_payload else [])
    for method in methods:
        response = getattr(anon, method)(resource.detail_url(obj), {}, format="json")
        assert (response.status_code, response.json()) == (401, NO_CREDENTIALS), method
    for method in methods:
        response = getattr(bad_key_client(anon), method)(
            resource.detail_url(obj), {}, format="json"
        )
        assert (response.status_code, response.json()) == (401, INVALID_TOKEN), method
    assert resource.model.objects.filter(pk=obj.pk).exists()


@resources
def test_other_accounts_object_is_not_found(resource, alice, bob):
    theirs = resource.make(bob.user)
    before = {f.name: getattr(theirs, f.name) for f in resource.model._meta.concrete_fields}
    url = resource.detail_url(theirs)

    response = alice.client.get(url)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    if resource.update_payload:
        for method in ["put", "patch"]:
            response = getattr(alice.client, method)(url, resource.update_payload, format="json")
            assert (response.status_code, response.json()) == (404, NOT_FOUND), method
        response = alice.client.delete(url)
        assert (response.status_code, response.json()) == (404, NOT_FOUND)

    theirs.refresh_from_db()
    assert {f.name: getattr(theirs, f.name) for f in resource.model._meta.concrete_fields} == before
    # And the owner still sees it.
    assert bob.client.get(url).status_code == 200


@resources
def test_missing_object_is_not_found(resource, alice):
    url = f"{resource.list_url}{resource.missing_lookup}/"
    response = alice.client.get(url)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


@resources
def test_lists_hold_only_the_accounts_rows(resource, alice, bob):
    mine = [resource.make(alice.user) for _ in range(2)]
    resource.make(bob.user)

    body = alice.client.get(resource.list_url).json()

    assert body["count"] == 2
    assert sorted(item["uuid"] for item in body["results"]) == sorted(str(o.uuid) for o in mine)


@resources
def test_create_belongs_to_the_requesting_account(resource, alice, bob):
    response = alice.client.post(resource.list_url, resource.create_payload(alice), format="json")

    assert response.status_code == 201, response.json()
    created = resource.model.objects.get(uuid=response.json()["uuid"])
    assert created.account == alice.user
    detail = resource.detail_url(created)
    assert alice.client.get(detail).json() == response.json()
    assert bob.client.get(detail).status_code == 404
    assert bob.client.get(resource.list_url).json()["count"] == 0


@resources
def test_account_fields_in_the_payload_are_ignored(resource, alice, bob):
    payload = resource.create_payload(alice) | {"account": bob.user.pk, "uuid": str(uuid.uuid4())}

    response = alice.client.post(resource.list_url, payload, format="json")

    assert response.status_code == 201
    assert response.json()["uuid"] != payload["uuid"]
    assert resource.model.objects.get(uuid=response.json()["uuid"]).account == alice.user


@resources
def test_every_route_answers_with_and_without_the_slash(resource, alice):
    obj = resource.make(alice.user)
    for url in [resource.list_url, resource.detail_url(obj)]:
        for variant in [url, url.rstrip("/")]:
            response = alice.client.get(variant)
            assert response.status_code == 200, variant
    response = alice.client.post(
        resource.list_url.rstrip("/"), resource.create_payload(alice), format="json"
    )
    assert response.status_code == 201


@resources
def test_update_and_delete(resource, alice):
    obj = resource.make(alice.user)
    url = resource.detail_url(obj)
    if resource.update_payload is None:
        for method in ["put", "patch", "delete"]:
            response = getattr(alice.client, method)(url, {}, format="json")
            assert response.status_code == 405, method
            assert response.json() == {"detail": f'Method "{method.upper()}" not allowed.'}
        assert resource.model.objects.filter(pk=obj.pk).exists()
        return

    response = alice.client.patch(url, resource.update_payload, format="json")
    assert response.status_code == 200
    [(field, value)] = resource.update_payload.items()
    assert response.json()[field] == value
    response = alice.client.delete(url)
    assert response.status_code == 204
    assert not resource.model.objects.filter(pk=obj.pk).exists()
    assert alice.client.get(url).status_code == 404
