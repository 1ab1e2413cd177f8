"""The list fast path (askhandle/api/fast_lists): its pages are byte-equal to DRF's own path for
every resource, its triggers are declared once and cannot go missing unnoticed, and SQLite (the
embedded default) keeps nothing that a migration could leave stale."""

import datetime as dt

import pytest
from django.apps import apps
from django.core import checks
from django.core.management import call_command
from django.db import connection, migrations, models
from django.db.migrations.state import ProjectState
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from askhandle.api import fast_lists
from askhandle.api.fast_lists import pages, triggers
from askhandle.api.fast_lists.models import DayCount
from askhandle.api.fast_lists.rendering import plan_for
from askhandle.api.renderers import JSONRenderer
from leads.filters import LeadFilter
from leads.models import Lead
from leads.serializers import LeadSerializer
from messaging.filters import MessageFilter
from messaging.models import Message
from messaging.serializers import MessageSerializer
from rooms.filters import RoomFilter
from rooms.models import Room
from rooms.serializers import RoomSerializer

from .factories import LeadFactory, MessageFactory, RoomFactory

postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the fast path runs on PostgreSQL only"
)
sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="the embedded default")


@pytest.fixture(autouse=True)
def _no_rate_limits(no_rate_limits):
    pass


def varied(user):
    """Rows with every kind of value the representations meet: text needing escapes, empty and
    null answers, ratings and none, times in other offsets, a room with no messages."""
    plain = RoomFactory(account=user, rating=None)
    full = RoomFactory(
        account=user, label="r-2", rating=4, is_bot_use=False, greeting_message="Hi \u2029"
    )
    RoomFactory(account=user, name="", greeting_message="")
    MessageFactory(account=user, room=plain)
    MessageFactory(
        account=user,
        room=full,
        body='Grüße "quoted" \\ \u2028 <b>&',
        email="m@example.com",
        phone_number="+33 1",
        is_support_sender=True,
        support_answer="",
        terminated=True,
        sent_at=dt.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=dt.UTC),
    )
    MessageFactory(
        account=user,
        room=full,
        support_answer="An answer 😀",
        sent_at=dt.datetime(2024, 3, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        # Where it came from: a JSON list with text needing escapes, a float of many digits.
        support_answer_sources=[
            {"uuid": "0b9ba3b9-3c84-4b8e-9d43-1f4f8d2c1a77", "question": 'Grüße "q" \u2028 😀'},
            {"uuid": "5f0c6a43-1f2e-4a55-8a3e-6d1b2c3d4e5f", "question": "Second?"},
        ],
        support_answer_confidence=0.1 + 0.2,
    )
    MessageFactory(account=user, room=full, support_answer="Bye", support_answer_confidence=1.0)
    MessageFactory.create_batch(3, account=user, room=plain, support_answer=None)
    LeadFactory(account=user)
    LeadFactory(account=user, nickname="", email="", referrer="https://example.com/?a=1&b=\u2028")
    return plain, full


def drf_path(monkeypatch, client, url, **extra):
    """The same request through DRF's own path: serializers over instances, COUNT(*)."""
    with monkeypatch.context() as patch:
        patch.setattr(pages, "trusted", lambda connection: False)
        return client.get(url, **extra)


@postgresql
def test_fast_pages_are_byte_equal_to_drfs_path_for_every_resource(alice, bob, monkeypatch):
    plain, _ = varied(alice.user)
    varied(bob.user)
    urls = [
        "/api/v1/leads/",
        "/api/v1/leads/?start_date=2000-01-01&limit=1",
        "/api/v1/rooms/",
        "/api/v1/rooms/?limit=2&offset=1",
        "/api/v1/rooms/?cursor=",
        "/api/v1/messages/",
        "/api/v1/messages/?cursor=&limit=2",
        f"/api/v1/messages/?room={plain.uuid}",
        "/api/v1/messages/?end_date=2024-03-01T00:00:00%2B01:00",
    ]
    for url in urls:
        for _ in range(2):  # built, then from the kept page
            fast = alice.client.get(url)
            assert fast.status_code == 200
            assert fast.content == drf_path(monkeypatch, alice.client, url).content, url
    assert len(pages.pages) == len(urls)


@pytest.mark.parametrize(
    ("serializer_class", "model"),
    [(LeadSerializer, Lead), (MessageSerializer, Message), (RoomSerializer, Room)],
)
def test_rows_render_what_the_serializer_renders(serializer_class, model, alice, bob):
    """The row rendering is derived from the serializer's fields: the same bytes (on both
    databases; the nested messages in the order of the view's Prefetch)."""
    varied(alice.user)
    varied(bob.user)
    queryset = model.objects.order_by("-id")
    if model is Message:
        queryset = queryset.select_related("room")
    if model is Room:
        queryset = queryset.with_messages()
    renderer = JSONRenderer()
    plan = plan_for(serializer_class)

    rendered = plan.render(
        list(plan.rows(queryset)),
        renderer=renderer,
        fragments=pages.Cache(0),
        prefetches=queryset._prefetch_related_lookups,
    )

    expected = renderer.render(serializer_class(queryset, many=True).data)
    assert renderer.render(rendered) == expected
    assert len(rendered) == model.objects.count() > 1


def test_a_field_a_plan_cannot_render_is_refused_at_once():
    from rest_framework import serializers

    class Nested(serializers.ModelSerializer):
        leads = LeadSerializer(many=True, read_only=True)  # leads are not grouped by anything

        class Meta:
            model = Room
            fields = ["label", "leads"]

    with pytest.raises(ValueError, match="leads"):
        plan_for(Nested)

    class Twice(serializers.ModelSerializer):
        messages = MessageSerializer(many=True, read_only=True)
        again = MessageSerializer(many=True, read_only=True, source="messages")

        class Meta:
            model = Room
            fields = ["label", "messages", "again"]

    with pytest.raises(ValueError, match="more than one nested group"):
        plan_for(Twice)


def request_with(query):
    return Request(APIRequestFactory().get("/api/v1/messages/", query))


@pytest.mark.parametrize(
    ("filterset_class", "query", "used"),
    [
        (MessageFilter, {}, False),
        (MessageFilter, {"limit": "5", "offset": "10", "cursor": "", "other": "x"}, False),
        (MessageFilter, {"room": "5f8e6c4e-8c1f-4f7a-9d9a-000000000000"}, True),
        (MessageFilter, {"start_date": "2024-03-09"}, True),
        (MessageFilter, {"end_date": ""}, True),  # present, even empty: the FilterSet decides
        (RoomFilter, {"limit": "5"}, False),
        (RoomFilter, {"start_date": "bad"}, True),
        (LeadFilter, {"end_date": "2024-03-09"}, True),
        (LeadFilter, {"room": "x"}, False),  # not a lead filter
    ],
)
def test_filters_used(filterset_class, query, used):
    assert pages._filters_used(filterset_class, request_with(query)) is used


@postgresql
@pytest.mark.parametrize("url", ["/api/v1/messages/", "/api/v1/rooms/", "/api/v1/leads/"])
@pytest.mark.parametrize(
    "query", [{}, {"limit": "3"}, {"limit": "3", "offset": "4"}, {"limit": "2", "cursor": ""}]
)
def test_skipping_an_unused_filterset_answers_what_the_filterset_gives(
    url, query, alice, bob, monkeypatch
):
    for account in (alice.user, bob.user):
        for _ in range(3):
            room = RoomFactory(account=account)
            MessageFactory.create_batch(2, account=account, room=room)
            LeadFactory(account=account)
    monkeypatch.setattr(pages.pages, "max_bytes", 0)
    skipped = alice.client.get(url, query)
    monkeypatch.setattr(pages, "_filters_used", lambda filterset_class, request: True)
    through_filterset = alice.client.get(url, query)

    assert skipped.status_code == through_filterset.status_code == 200
    assert skipped.content == through_filterset.content
    assert skipped.json()["count"] > 0


# The triggers: declared once, installed after every migrate, checked.


@postgresql
def test_migrate_leaves_the_declared_triggers():
    assert triggers.problems(connection) == []
    assert checks.run_checks(databases=["default"], tags=[checks.Tags.database]) == []
    _, declared = triggers.declared()
    listed = {Lead._meta.db_table, Room._meta.db_table, Message._meta.db_table}
    assert {table for table, _ in declared} == listed


def found_warnings():
    return [
        message.id
        for message in checks.run_checks(databases=["default"], tags=[checks.Tags.database])
    ]


def rebuild_leads_table_by_hand():
    """What a migration that rebuilds a table does (a copy, the old one dropped): the copy has
    none of the old table's triggers."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # what a commit would run before
        cursor.execute("ALTER TABLE leads_lead RENAME TO leads_lead_old")
        cursor.execute("CREATE TABLE leads_lead (LIKE leads_lead_old INCLUDING ALL)")
        cursor.execute("INSERT INTO leads_lead SELECT * FROM leads_lead_old")
        cursor.execute("DROP TABLE leads_lead_old CASCADE")


@postgresql
def test_a_rebuilt_table_is_noticed_switched_off_and_repaired_by_migrate(alice, monkeypatch):
    """(In the test's transaction: PostgreSQL rolls the DDL back afterwards.)"""
    LeadFactory.create_batch(2, account=alice.user)
    assert alice.client.get("/api/v1/leads/").json()["count"] == 2

    rebuild_leads_table_by_hand()
    LeadFactory(account=alice.user)  # no trigger counts it

    assert "fast_lists.W001" in found_warnings()
    assert any("leads_lead" in problem for problem in triggers.problems(connection))
    # A process that finds them missing answers through DRF's path: exact, nothing kept.
    pages.forget_checks()
    pages.pages.clear()
    assert alice.client.get("/api/v1/leads/").json()["count"] == 3
    assert len(pages.pages) == 0

    call_command("migrate", verbosity=0)

    assert triggers.problems(connection) == [] and found_warnings() == []
    LeadFactory(account=alice.user)
    response = alice.client.get("/api/v1/leads/")
    assert response.json()["count"] == 4 == Lead.objects.filter(account=alice.user).count()
    assert response.content == drf_path(monkeypatch, alice.client, "/api/v1/leads/").content
    assert len(pages.pages) == 1  # trusted again


@postgresql
def test_a_changed_declaration_is_installed_again(monkeypatch):
    statements, names = triggers.declared()
    assert triggers.install(connection) is False  # as declared: nothing to do
    monkeypatch.setattr(
        triggers, "declared", lambda: ([*statements[:-1], statements[-1] + " "], names)
    )
    assert triggers.problems(connection) == ["the trigger functions differ from their declaration"]
    assert triggers.install(connection) is True
    assert triggers.problems(connection) == []


@postgresql
def test_rebuild_counts_renews_everything(alice):
    LeadFactory.create_batch(3, account=alice.user)
    DayCount.objects.all().delete()
    call_command("rebuild_counts", stdout=None)
    assert alice.client.get("/api/v1/leads/").json()["count"] == 3


@sqlite
def test_sqlite_keeps_nothing(alice):
    LeadFactory.create_batch(2, account=alice.user)
    for _ in range(2):
        assert alice.client.get("/api/v1/leads/").json()["count"] == 2
    assert len(pages.pages) == 0 and len(pages.fragments) == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        assert not [name for (name,) in cursor.fetchall() if "knowledge" not in name]
    assert triggers.install(connection) is False
    assert found_warnings() == []


@pytest.mark.django_db(transaction=True)
def test_a_table_rebuilding_migration_leaves_lists_exact(make_account):
    """A real schema change through the migration machinery (on SQLite, Django copies the table
    into a new one), then `migrate`'s signal, then lists count exactly."""
    alice = make_account("alice")
    LeadFactory.create_batch(2, account=alice.user)
    alice.client.get("/api/v1/leads/")
    before = ProjectState.from_apps(apps)
    wider = migrations.AlterField(
        "lead", "device", models.CharField(max_length=300, blank=True, default="")
    )
    after = before.clone()
    wider.state_forwards("leads", after)
    with connection.schema_editor() as editor:
        wider.database_forwards("leads", editor, before, after)
    try:
        LeadFactory(account=alice.user, device="x" * 280)
        call_command("migrate", verbosity=0)
        LeadFactory(account=alice.user)
        for url in ["/api/v1/leads/", "/api/v1/leads/?start_date=2000-01-01"]:
            assert alice.client.get(url).json()["count"] == 4
        assert found_warnings() == []
    finally:
        Lead.objects.filter(device__startswith="x" * 256).delete()
        with connection.schema_editor() as editor:
            wider.database_backwards("leads", editor, after, before)


def test_the_interface_is_one_function_and_a_registration():
    assert fast_lists.__all__ == ["page", "register"]
