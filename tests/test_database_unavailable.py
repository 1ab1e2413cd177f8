"""An unreachable database answers 503 JSON with Retry-After (the client may retry), never a 500
or an HTML page. The real outage (PostgreSQL restarted under load) is `slow/test_faults.py`."""

import pytest
from django.db import IntegrityError, InterfaceError, OperationalError
from django.test import Client
from django.urls import path

from askhandle.api.views import server_error
from tests.factories import RoomFactory

UNAVAILABLE = {"detail": "The service is temporarily unavailable; retry shortly."}


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("connection failed: Connection refused"),
        OperationalError("terminating connection due to administrator command"),
        InterfaceError("connection already closed"),
    ],
)
def test_api_answers_503_while_the_database_is_unreachable(alice, monkeypatch, error):
    room = RoomFactory(account=alice.user)

    def fail(**kwargs):
        raise error

    monkeypatch.setattr("messaging.views.message_create", fail)
    alice.client.raise_request_exception = False

    response = alice.client.post(
        "/api/v1/messages/", {"room": {"uuid": str(room.uuid)}, "body": "hi"}, format="json"
    )

    assert (response.status_code, response.json()) == (503, UNAVAILABLE)
    assert response["Retry-After"] == "2"
    assert str(error) not in response.content.decode()


def test_other_database_errors_stay_500(alice, monkeypatch):
    # Only a lost or refused connection is temporary; a constraint violation is a bug.
    def fail(self):
        raise IntegrityError("duplicate key")

    monkeypatch.setattr("leads.views.LeadViewSet.get_queryset", fail)
    alice.client.raise_request_exception = False

    response = alice.client.get("/api/v1/leads/")

    assert (response.status_code, response.json()) == (500, {"detail": "A server error occurred."})
    assert "Retry-After" not in response


def plain_django_view(request):
    raise OperationalError("connection failed")


# A URLconf for the next test: a view outside DRF (like the admin's) with the project's handler.
urlpatterns = [path("plain", plain_django_view)]
handler500 = server_error


@pytest.mark.urls(__name__)
def test_outside_the_api_the_outage_is_a_json_503_too(db):
    response = Client(raise_request_exception=False).get("/plain")

    assert (response.status_code, response.json()) == (503, UNAVAILABLE)
    assert response["Retry-After"] == "2"


def test_schema_documents_the_503(anon):
    schema = anon.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for url, item in schema["paths"].items():
        for method, operation in item.items():
            assert "503" in operation["responses"], (method, url)
