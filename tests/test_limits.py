"""Every input is bounded: text fields, request bodies, page sizes."""

from urllib.parse import urlencode

import pytest
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from rest_framework import serializers

from accounts.serializers import ApiTokenRequestSerializer
from askhandle.urls import router
from leads.models import Lead

from .factories import LeadFactory, RoomFactory


def writable_fields(serializer_class):
    serializer = serializer_class(context={"request": None})
    for name, field in serializer.fields.items():
        if not field.read_only:
            yield f"{serializer_class.__name__}.{name}", field


INPUT_SERIALIZERS = [
    *{viewset.serializer_class for _, viewset, _ in router.registry},
    ApiTokenRequestSerializer,
]
UNBOUNDED_TYPES = (serializers.ListField, serializers.DictField, serializers.JSONField)


def test_every_writable_text_field_has_a_maximum_length():
    seen = []
    for serializer_class in INPUT_SERIALIZERS:
        for name, field in writable_fields(serializer_class):
            assert not isinstance(field, UNBOUNDED_TYPES), name
            if isinstance(field, serializers.CharField):
                assert field.max_length is not None, f"{name} has no max_length"
                seen.append(name)
    assert "MessageSerializer.body" in seen and "LeadSerializer.referrer" in seen


def longest(field, n):
    if isinstance(field, serializers.EmailField):
        return "a" * (n - len("@example.com")) + "@example.com"
    return "x" * n


@pytest.mark.parametrize("resource", ["leads", "rooms", "messages"])
def test_each_text_field_takes_its_limit_and_refuses_one_more(alice, resource):
    url = f"/api/v1/{resource}/"
    viewset = next(v for prefix, v, _ in router.registry if prefix == resource)
    base = {"body": "hi", "room": str(RoomFactory(account=alice.user).uuid)}
    if resource != "messages":
        base = {}
    checked = 0
    for name, field in writable_fields(viewset.serializer_class):
        if not isinstance(field, serializers.CharField):
            continue
        field_name = name.split(".")[1]
        limit = field.max_length
        ok = alice.client.post(url, base | {field_name: longest(field, limit)}, format="json")
        assert ok.status_code == 201, (field_name, ok.json())
        too_long = alice.client.post(
            url, base | {field_name: longest(field, field.max_length + 1)}, format="json"
        )
        assert too_long.status_code == 400, field_name
        assert too_long.json() == {
            field_name: [f"Ensure this field has no more than {field.max_length} characters."]
        }
        checked += 1
    assert checked >= 3


def test_page_size_is_capped_on_every_list(alice):
    Lead.objects.bulk_create(LeadFactory.build_batch(1001, account=alice.user))
    for limit in ["1000", "1001", "99999999999999999999"]:
        body = alice.client.get(f"/api/v1/leads/?limit={limit}").json()
        assert len(body["results"]) == 1000
        assert body["next"] is not None


def test_deeply_nested_json_answers_400_not_500(alice):
    body = "[" * 100_000 + "]" * 100_000  # well under the body limit
    response = alice.client.post("/api/v1/leads/", body, content_type="application/json")
    assert (response.status_code, response.json()) == (
        400,
        {"detail": "JSON parse error - nested too deeply."},
    )
    assert not Lead.objects.exists()


def test_too_many_form_fields_answers_400_naming_the_limit(alice):
    fields = {f"f{i}": "x" for i in range(1001)}
    for body, content_type in [
        (urlencode(fields), "application/x-www-form-urlencoded"),
        (encode_multipart(BOUNDARY, fields), MULTIPART_CONTENT),
    ]:
        response = alice.client.post("/api/v1/leads/", body, content_type=content_type)
        assert (response.status_code, response.json()) == (
            400,
            {"detail": "Too many form fields (limit 1000)."},
        ), content_type
    assert not Lead.objects.exists()
