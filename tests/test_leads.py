import datetime as dt

import pytest

from leads.models import Lead

from .factories import LeadFactory

URL = "/api/v1/leads/"
FIELDS = [
    "uuid",
    "nickname",
    "email",
    "phone_number",
    "device",
    "from_page_title",
    "referrer",
    "created_at",
]
FULL = {
    "nickname": "Mary",
    "email": "mary@example.com",
    "phone_number": "+1 555 0100",
    "device": "iPhone",
    "from_page_title": "Pricing",
    "referrer": "https://example.com/pricing?utm=x",
}


def at(day: str, time: str = "12:00") -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{time}:00+00:00")


def test_create_with_every_field(alice):
    response = alice.client.post(URL, FULL, format="json")

    assert response.status_code == 201
    body = response.json()
    assert list(body) == FIELDS
    assert {k: body[k] for k in FULL} == FULL
    lead = Lead.objects.get(uuid=body["uuid"])
    assert (lead.account, lead.email, lead.referrer) == (
        alice.user,
        FULL["email"],
        FULL["referrer"],
    )


def test_create_with_an_empty_object(alice):
    response = alice.client.post(URL, {}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in FULL} == dict.fromkeys(FULL, "")


def test_null_optional_fields_are_stored_blank(alice):
    response = alice.client.post(URL, {"nickname": None, "email": None}, format="json")
    assert response.status_code == 201
    assert (response.json()["nickname"], response.json()["email"]) == ("", "")


def test_invalid_email_is_refused_and_nothing_written(alice):
    response = alice.client.post(URL, {"email": "not-an-email"}, format="json")
    assert (response.status_code, response.json()) == (
        400,
        {"email": ["Enter a valid email address."]},
    )
    assert Lead.objects.count() == 0


def test_field_lengths_are_bounded(alice):
    response = alice.client.post(URL, {"nickname": "x" * 256}, format="json")
    assert (response.status_code, response.json()) == (
        400,
        {"nickname": ["Ensure this field has no more than 255 characters."]},
    )


def test_wrong_types_answer_400(alice):
    response = alice.client.post(URL, {"nickname": {"a": 1}, "device": ["x"]}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "nickname": ["Not a valid string."],
        "device": ["Not a valid string."],
    }
    response = alice.client.post(URL, ["not", "an", "object"], format="json")
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
    }
    assert Lead.objects.count() == 0


def test_put_and_patch_update_the_given_fields(alice):
    """As in DRF (and the hosted API): fields a PUT leaves out keep their values."""
    lead = LeadFactory(account=alice.user, **FULL)
    url = f"{URL}{lead.uuid}/"

    response = alice.client.patch(url, {"device": "Android"}, format="json")
    assert response.status_code == 200
    assert response.json()["device"] == "Android"
    assert response.json() == alice.client.get(url).json()
    lead.refresh_from_db()
    assert (lead.device, lead.nickname) == ("Android", "Mary")

    response = alice.client.put(url, {"nickname": "Ann", "email": ""}, format="json")
    assert response.status_code == 200
    lead.refresh_from_db()
    assert (lead.nickname, lead.device, lead.email) == ("Ann", "Android", "")
    assert str(lead.uuid) == response.json()["uuid"]


def test_read_only_fields_cannot_be_changed(alice):
    lead = LeadFactory(account=alice.user)
    created = lead.created_at
    response = alice.client.patch(
        f"{URL}{lead.uuid}/",
        {"uuid": "00000000-0000-0000-0000-000000000000", "created_at": "2000-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 200
    lead.refresh_from_db()
    assert (str(lead.uuid), lead.created_at) == (response.json()["uuid"], created)


def test_list_is_newest_first(alice):
    old = LeadFactory(account=alice.user, created_at=at("2024-01-01"))
    new = LeadFactory(account=alice.user, created_at=at("2024-03-01"))
    same_time = LeadFactory(account=alice.user, created_at=at("2024-03-01"))

    results = alice.client.get(URL).json()["results"]

    assert [r["uuid"] for r in results] == [str(same_time.uuid), str(new.uuid), str(old.uuid)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("start_date=2024-02-01", ["feb1_start", "feb1_end", "mar"]),
        ("end_date=2024-02-01", ["jan", "feb1_start", "feb1_end"]),
        ("start_date=2024-02-01&end_date=2024-02-01", ["feb1_start", "feb1_end"]),
        ("start_date=2024-02-02&end_date=2024-02-28", []),
        ("start_date=2024-02-01T12:00:00Z", ["feb1_end", "mar"]),
        ("end_date=2024-02-01T00:00:00", ["jan", "feb1_start"]),
        # 01:00 at +02:00 is 23:00 UTC the day before.
        (
            "start_date=2024-02-01T01:00:00%2B02:00&end_date=2024-02-01",
            ["jan", "feb1_start", "feb1_end"],
        ),
        ("start_date=&end_date=", ["jan", "feb1_start", "feb1_end", "mar"]),
    ],
)
def test_date_filters_are_inclusive_utc_days(query, expected, alice, bob):
    leads = {
        "jan": LeadFactory(account=alice.user, created_at=at("2024-01-31", "23:59")),
        "feb1_start": LeadFactory(account=alice.user, created_at=at("2024-02-01", "00:00")),
        "feb1_end": LeadFactory(
            account=alice.user, created_at=at("2024-02-01", "23:59") + dt.timedelta(seconds=59)
        ),
        "mar": LeadFactory(account=alice.user, created_at=at("2024-03-01")),
    }
    LeadFactory(account=bob.user, created_at=at("2024-02-01"))

    body = alice.client.get(f"{URL}?{query}").json()

    names = {str(lead.uuid): name for name, lead in leads.items()}
    assert sorted(names[r["uuid"]] for r in body["results"]) == sorted(expected)
    assert body["count"] == len(expected)


@pytest.mark.parametrize(
    "value", ["2024-13-01", "yesterday", "2024-02-30", "01/02/2024", "2024-02-01T25:00"]
)
@pytest.mark.parametrize("param", ["start_date", "end_date"])
def test_malformed_dates_answer_400_naming_the_parameter(param, value, alice):
    response = alice.client.get(URL, {param: value})
    assert response.status_code == 400
    assert response.json() == {param: ["Enter a date (YYYY-MM-DD) or an ISO 8601 datetime."]}


def test_extreme_dates_do_not_crash(alice):
    LeadFactory(account=alice.user)
    assert alice.client.get(URL, {"end_date": "9999-12-31"}).json()["count"] == 1
    assert alice.client.get(URL, {"start_date": "0001-01-01"}).json()["count"] == 1
    response = alice.client.get(URL, {"start_date": "0001-01-01T00:00:00+05:00"})
    assert response.status_code == 400
