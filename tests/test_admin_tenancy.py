"""The admin, separated by account (accounts/admin_scope.py, docs/admin.md).

The matrix walks every registered model admin (`admin.site._registry`): a staff login of account
A that is not a superuser, holding every permission of every model, never sees, reaches or picks
a row of account B. A model admin added without account scoping fails here, and so does one
whose model has no row maker below (add one: the matrix needs a row of each account).
"""

import io
from dataclasses import dataclass, field

import pytest
from django.contrib import admin
from django.contrib.admin.filters import RelatedFieldListFilter
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.forms import ModelChoiceField
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.admin_scope import AccountScoped, SuperuserOnlyAdmin
from accounts.models import ApiKey, User
from bot.models import BotSettings, HandOff, InboxRoom, KnowledgeGap
from keywords.models import Keyword, KeywordNotification
from keywords.services import keyword_save
from knowledge.models import KnowledgeEntry
from leads.models import Lead
from messaging.admin import MessageAdmin
from messaging.models import Message
from rooms.models import Room
from webhooks.models import Delivery, DeliveryAttempt, Event, Webhook

from .factories import KnowledgeEntryFactory, LeadFactory, MessageFactory, RoomFactory

REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def label(model) -> str:
    return model._meta.label


@dataclass
class Side:
    """One account's rows of every registered model."""

    account: User
    person: User
    rows: dict = field(default_factory=dict)

    def pks(self, model) -> set:
        return {row.pk for row in self.rows.get(model, [])}


def make_rows(account: User, person: User) -> Side:
    name = account.username
    side = Side(account=account, person=person)
    room = RoomFactory(account=account, label=f"room-of-{name}", name=f"Room of {name}")
    message = MessageFactory(account=account, room=room, body=f"Question of {name}'s visitor")
    keyword = keyword_save(keyword=Keyword(account=account, keyword=f"refund-{name}"))
    webhook = Webhook.objects.create(
        account=account, event="message.added", target=f"https://{name}.example.com/hook"
    )
    event = Event.objects.create(account=account, type="message.added", data={"of": name})
    delivery = Delivery.objects.create(
        webhook=webhook, event=event, give_up_at=timezone.now() + timezone.timedelta(days=1)
    )
    DeliveryAttempt.objects.create(
        delivery=delivery, number=1, started_at=timezone.now(), duration_ms=5, status_code=500
    )
    Room.objects.filter(pk=room.pk).update(is_bot_use=False)
    hand_off = HandOff.objects.create(account=account, room=room, message=message, reason="llm")
    side.rows = {
        User: [account, person],
        ApiKey: list(ApiKey.objects.filter(user=account)),
        Room: [room],
        Message: [message],
        Lead: [LeadFactory(account=account, nickname=f"Lead of {name}")],
        Keyword: [keyword],
        KeywordNotification: [
            KeywordNotification.objects.create(
                account=account, keyword=keyword.keyword, message=message, room=room
            )
        ],
        KnowledgeEntry: [KnowledgeEntryFactory(account=account, question=f"Hours of {name}?")],
        Webhook: [webhook],
        Delivery: [delivery],
        BotSettings: [BotSettings.objects.create(account=account, greeting_message=f"Hi {name}")],
        HandOff: [hand_off],
        # The hand-off's room waits in the inbox; its question is a knowledge gap.
        InboxRoom: [InboxRoom.objects.get(pk=room.pk)],
        KnowledgeGap: [KnowledgeGap.objects.get(pk=hand_off.pk)],
    }
    return side


def every_permission() -> list[Permission]:
    types = [
        ContentType.objects.get_for_model(model, for_concrete_model=False)
        for model in admin.site._registry
    ]
    return list(Permission.objects.filter(content_type__in=types))


@pytest.fixture
def world(make_account):
    alice, bob = make_account("alice"), make_account("bob")
    sides = []
    for owner in (alice.user, bob.user):
        person = User.objects.create_user(f"{owner.username}-person", account=owner)
        sides.append(make_rows(owner, person))
    return sides


@pytest.fixture
def staff(world):
    """A staff login of account A (alice), not a superuser, with every permission of every
    registered model."""
    mine, _ = world
    user = User.objects.create_user("alice-staff", password="pw", account=mine.account)
    user.is_staff = True
    user.save()
    user.user_permissions.set(every_permission())
    mine.rows[User].append(user)
    client = Client()
    client.force_login(user)
    return client


def url(model, view, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def password_url(user) -> str:
    return reverse("admin:auth_user_password_change", args=[user.pk])


def is_missing(response) -> bool:
    """What Django answers for an object that does not exist: 404, or a redirect to the index."""
    return response.status_code == 404 or (
        response.status_code == 302 and response.url == reverse("admin:index")
    )


def lookup_value(obj, path: str):
    for name in path.split("__"):
        obj = getattr(obj, name, None)
    return obj


def snapshot(obj) -> dict:
    obj = type(obj)._base_manager.get(pk=obj.pk)
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def choice_fields(form):
    return [(name, f) for name, f in form.fields.items() if isinstance(f, ModelChoiceField)]


def assert_page_names_none_of_theirs(response, theirs: Side):
    """A page of its own (not Django's change list or form): none of B's rows' words on it
    (make_rows() names every row "... of <account>")."""
    assert f"of {theirs.account.username}".encode() not in response.content


def assert_form_offers_none_of_theirs(response, mine: Side, theirs: Side):
    if "adminform" not in response.context:
        # A page of its own (the inbox's conversation): it names none of B's rows.
        assert_page_names_none_of_theirs(response, theirs)
        return
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [*inline.formset.forms, inline.formset.empty_form]
    checked = 0
    for form in forms:
        for name, formfield in choice_fields(form):
            offered = set(formfield.queryset.values_list("pk", flat=True))
            related = formfield.queryset.model
            assert not offered & theirs.pks(related), (name, label(related))
            if related is User and form._meta.model is not User:
                # A row's account is fixed to the login's own account.
                assert offered == {mine.account.pk}, name
                assert formfield.disabled, name
            checked += 1
    return checked


def test_every_model_admin_is_scoped_by_account(world):
    mine, theirs = world
    for model, model_admin in REGISTRY:
        assert isinstance(model_admin, AccountScoped | SuperuserOnlyAdmin), (
            f"{label(model)}: its admin must start from AccountScopedAdmin (accounts/admin_scope)"
        )
        for inline in model_admin.inlines:
            assert issubclass(inline, AccountScoped), f"{label(model)}: {inline.__name__}"
        if isinstance(model_admin, AccountScoped):
            assert mine.rows.get(model) and theirs.rows.get(model), (
                f"{label(model)}: add a row maker to make_rows() in this test"
            )


@pytest.mark.parametrize(("model", "model_admin"), REGISTRY, ids=[label(m) for m, _ in REGISTRY])
def test_admin_matrix_a_staff_login_of_one_account(world, staff, model, model_admin):
    mine, theirs = world
    if isinstance(model_admin, SuperuserOnlyAdmin):
        assert staff.get(url(model, "changelist")).status_code == 403
        assert staff.get(url(model, "add")).status_code == 403
        assert label(model) not in str(staff.get("/admin/").context["app_list"])
        return

    # The list: all of A's rows, none of B's.
    response = staff.get(url(model, "changelist"))
    assert response.status_code == 200
    if "cl" not in response.context:
        # A page of its own (the knowledge gaps): A's rows on it, none of B's.
        assert f"of {mine.account.username}".encode() in response.content
        assert_page_names_none_of_theirs(response, theirs)
        return
    listed = set(response.context["cl"].queryset.values_list("pk", flat=True))
    assert mine.pks(model) <= listed
    assert not listed & theirs.pks(model)

    # Searches: B's own words find nothing of B's (A's find A's).
    for path in model_admin.search_fields:
        path = path.lstrip("^=@")
        for side, expected in ((theirs, set()), (mine, None)):
            for row in side.rows[model]:
                term = lookup_value(row, path)
                if not term:
                    continue
                found = set(
                    staff.get(url(model, "changelist"), {"q": str(term)})
                    .context["cl"]
                    .queryset.values_list("pk", flat=True)
                )
                if expected is None:
                    assert row.pk in found, (path, term)
                else:
                    assert not found & theirs.pks(model), (path, term)

    # The list filters offer none of B's related objects.
    for spec in response.context["cl"].filter_specs:
        if isinstance(spec, RelatedFieldListFilter):
            offered = {pk for pk, _ in spec.lookup_choices}
            assert not offered & theirs.pks(spec.field.related_model), spec.title

    # B's objects by URL: answered exactly as an object that does not exist.
    missing_pk = 10**9
    for row in theirs.rows[model]:
        before = snapshot(row)
        for method, view, data in [
            ("get", "change", None),
            ("get", "history", None),
            ("get", "delete", None),
            ("post", "change", {}),
            ("post", "delete", {"post": "yes"}),
        ]:
            answer = getattr(staff, method)(url(model, view, row.pk), data)
            missing = getattr(staff, method)(url(model, view, missing_pk), data)
            assert (answer.status_code, answer.get("Location")) == (
                missing.status_code,
                missing.get("Location"),
            ), (method, view, row)
            assert missing.status_code in (302, 403, 404)
        assert snapshot(row) == before

    # Actions on B's rows (by their ids) do nothing to them.
    actions = model_admin.get_actions(_request_of(staff))
    for name in actions:
        before = {row.pk: snapshot(row) for row in theirs.rows[model]}
        staff.post(
            url(model, "changelist"),
            {"action": name, "_selected_action": list(before), "post": "yes", "index": 0},
        )
        for row in theirs.rows[model]:
            assert snapshot(row) == before[row.pk], (name, row)

    # Add and change forms (their inlines too) offer none of B's objects.
    if model_admin.has_add_permission(_request_of(staff)):
        response = staff.get(url(model, "add"))
        assert response.status_code == 200
        assert_form_offers_none_of_theirs(response, mine, theirs)
    own = mine.rows[model][-1]
    response = staff.get(url(model, "change", own.pk))
    assert response.status_code == 200
    assert_form_offers_none_of_theirs(response, mine, theirs)


@pytest.mark.parametrize(("model", "model_admin"), REGISTRY, ids=[label(m) for m, _ in REGISTRY])
def test_admin_matrix_autocompletes_answer_only_the_accounts_rows(world, staff, model, model_admin):
    mine, theirs = world
    for source_field in model_admin.autocomplete_fields:
        target = model._meta.get_field(source_field).related_model
        answer = staff.get(
            reverse("admin:autocomplete"),
            {
                "app_label": model._meta.app_label,
                "model_name": model._meta.model_name,
                "field_name": source_field,
                "term": "",
            },
        )
        assert answer.status_code == 200, (label(model), source_field)
        offered = {int(result["id"]) for result in answer.json()["results"]}
        assert not offered & theirs.pks(target), (label(model), source_field)
        if target is User:
            assert offered == {mine.account.pk}
        else:
            assert mine.pks(target) <= offered


def test_a_superuser_still_sees_every_account(world, admin_client):
    mine, theirs = world
    for model, model_admin in REGISTRY:
        if isinstance(model_admin, SuperuserOnlyAdmin):
            assert admin_client.get(url(model, "changelist")).status_code == 200
            continue
        response = admin_client.get(url(model, "changelist"))
        if "cl" not in response.context:  # a page of its own: the knowledge gaps, per account
            for side in (mine, theirs):
                page = admin_client.get(url(model, "changelist"), {"account": side.account.pk})
                assert f"of {side.account.username}".encode() in page.content, label(model)
            continue
        listed = set(response.context["cl"].queryset.values_list("pk", flat=True))
        assert mine.pks(model) | theirs.pks(model) <= listed, label(model)
        row = theirs.rows[model][0]
        assert admin_client.get(url(model, "change", row.pk)).status_code == 200
        if model_admin.has_add_permission(_request_of(admin_client)):
            page = admin_client.get(url(model, "add"))
            assert page.status_code == 200
            # Every account may be chosen (accounts, not their people).
            for name, formfield in choice_fields(page.context["adminform"].form):
                if formfield.queryset.model is User:
                    offered = set(formfield.queryset.values_list("pk", flat=True))
                    assert {mine.account.pk, theirs.account.pk} <= offered, name
                    assert not offered & {mine.person.pk, theirs.person.pk}, name


def _request_of(client):
    """A request of the client's login, for asking a model admin directly."""
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = User.objects.get(pk=client.session["_auth_user_id"])
    return request


# --- Forms: posted objects of another account --------------------------------------------------


def test_a_row_added_by_a_login_of_an_account_is_that_accounts(world, staff):
    mine, theirs = world
    response = staff.post(
        url(Lead, "add"),
        {"account": theirs.account.pk, "nickname": "Posted", "email": "posted@example.com"}
        | {"phone_number": "", "device": "", "from_page_title": "", "referrer": ""},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Lead.objects.get(nickname="Posted").account == mine.account

    response = staff.post(url(ApiKey, "add"), {"user": theirs.account.pk, "name": "posted"})
    assert response.status_code == 302
    assert ApiKey.objects.get(name="posted").user == mine.account

    # Nor through the query string (the initial values of an add form).
    page = staff.get(url(Keyword, "add"), {"account": theirs.account.pk})
    assert (
        not page.context["adminform"].form.fields["account"].queryset.filter(pk=theirs.account.pk)
    )
    response = staff.post(
        url(Keyword, "add") + f"?account={theirs.account.pk}",
        {"account": theirs.account.pk, "keyword": "posted"},
    )
    assert response.status_code == 302
    assert Keyword.objects.get(keyword="posted").account == mine.account


def test_a_message_cannot_be_added_to_another_accounts_room(world, staff):
    mine, theirs = world
    fields = {"body": "Sneaky", "nickname": "", "email": "", "phone_number": ""}
    response = staff.post(url(Message, "add"), {"room": theirs.rows[Room][0].pk, **fields})
    assert response.status_code == 200
    assert "room" in response.context["adminform"].form.errors
    assert not Message.objects.filter(body="Sneaky").exists()

    response = staff.post(url(Message, "add"), {"room": mine.rows[Room][0].pk, **fields})
    assert response.status_code == 302
    assert Message.objects.get(body="Sneaky").account == mine.account


def test_a_raw_id_box_does_not_name_another_accounts_object(world, staff):
    mine, theirs = world

    class RawIdMessageAdmin(MessageAdmin):
        autocomplete_fields = []
        raw_id_fields = ["room"]

    model_admin = RawIdMessageAdmin(Message, admin.site)
    request = _request_of(staff)
    form_class = model_admin.get_form(request)
    theirs_room, mine_room = theirs.rows[Room][0], mine.rows[Room][0]
    posted = form_class(data={"room": theirs_room.pk, "body": "x"})
    assert not posted.is_valid() and "room" in posted.errors
    assert theirs_room.name not in str(posted["room"])
    assert mine_room.name in str(form_class(data={"room": mine_room.pk, "body": "x"})["room"])


def test_a_list_filter_on_a_relation_offers_only_the_accounts_objects(world, staff):
    mine, _ = world

    class RoomFilterMessageAdmin(MessageAdmin):
        list_filter = ["room", ("room", RelatedFieldListFilter)]

    # Two rooms with messages, so that the filter has something to offer.
    MessageFactory(account=mine.account, room=RoomFactory(account=mine.account))
    model_admin = RoomFilterMessageAdmin(Message, admin.site)
    request = _request_of(staff)
    request.GET = request.GET.copy()
    specs = model_admin.get_changelist_instance(request).filter_specs
    assert len(specs) == 2
    for spec in specs:
        offered = {pk for pk, _ in spec.lookup_choices}
        assert offered == set(
            Room.objects.filter(account=mine.account).values_list("pk", flat=True)
        )
        assert len(offered) == 2


# --- Users: nobody raises themselves ------------------------------------------------------------


def user_form(user: User, **changes) -> dict:
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on" if user.is_active else "",
        "is_staff": "on" if user.is_staff else "",
        "groups": [g.pk for g in user.groups.all()],
        "user_permissions": [p.pk for p in user.user_permissions.all()],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != ""}


@pytest.fixture
def manager(db, make_account):
    """A staff person of account A who may view, add, change and delete users and leads (and is
    in the group "Support"); `others` holds the account, account B and a superuser."""
    alice, bob = make_account("alice"), make_account("bob")
    user = User.objects.create_user("alice-manager", password="pw", account=alice.user)
    user.is_staff = True
    user.save()
    perms = Permission.objects.filter(
        content_type__app_label__in=["accounts", "leads"],
        codename__in=[
            f"{action}_{name}"
            for action in ("view", "add", "change", "delete")
            for name in ("user", "lead")
        ],
    )
    user.user_permissions.set(perms)
    support = Group.objects.create(name="Support")
    support.permissions.set(Permission.objects.filter(codename="view_room"))
    user.groups.add(support)
    client = Client()
    client.force_login(user)
    return user, client, alice.user, bob.user


def test_a_login_cannot_make_itself_superuser(manager):
    user, client, *_ = manager
    response = client.post(url(User, "change", user.pk), user_form(user, is_superuser="on"))
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_superuser
    page = client.get(url(User, "change", user.pk))
    assert "is_superuser" not in page.context["adminform"].form.fields


def test_a_login_cannot_grant_permissions_or_groups_it_does_not_hold(manager):
    user, client, account, _ = manager
    admins = Group.objects.create(name="Admins")
    delete_room = Permission.objects.get(codename="delete_room")
    person = User.objects.create_user("alice-helper", account=account)
    for target in (user, person):
        held = [p.pk for p in user.user_permissions.all()]
        response = client.post(
            url(User, "change", target.pk),
            user_form(target, user_permissions=[*held, delete_room.pk]),
        )
        assert response.status_code == 200
        assert "user_permissions" in response.context["adminform"].form.errors
        response = client.post(
            url(User, "change", target.pk), user_form(target, groups=[admins.pk])
        )
        assert response.status_code == 200
        assert "groups" in response.context["adminform"].form.errors
        assert not target.user_permissions.filter(pk=delete_room.pk).exists()
        assert not target.groups.filter(pk=admins.pk).exists()

    # What it holds, it may give to the account's people.
    view_lead = Permission.objects.get(codename="view_lead")
    support = Group.objects.get(name="Support")
    response = client.post(
        url(User, "change", person.pk),
        user_form(person, user_permissions=[view_lead.pk], groups=[support.pk], is_staff="on"),
    )
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.is_staff
    assert list(person.user_permissions.all()) == [view_lead]
    assert list(person.groups.all()) == [support]


def test_a_login_cannot_change_superusers_other_accounts_or_anyone_above_itself(manager):
    _, client, account, other = manager
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    root_of_a = User.objects.create_superuser("root-a", "roota@example.com", "pw", account=account)
    person_of_b = User.objects.create_user("bob-person", account=other)
    above = User.objects.create_user("alice-above", account=account)
    above.user_permissions.add(Permission.objects.get(codename="delete_room"))
    above_by_group = User.objects.create_user("alice-admins", account=account)
    above_by_group.groups.add(Group.objects.create(name="Admins"))

    for target in (root, other, person_of_b):
        assert is_missing(client.get(url(User, "change", target.pk)))
        assert client.get(password_url(target)).status_code == 404
    for target in (account, root_of_a, above, above_by_group):
        before = snapshot(target)
        page = client.get(url(User, "change", target.pk))
        assert page.status_code == 200 and not page.context["has_change_permission"]
        assert client.post(url(User, "change", target.pk), user_form(target)).status_code == 403
        assert client.get(password_url(target)).status_code == 403
        response = client.post(
            password_url(target),
            {"password1": "taken-over-1", "password2": "taken-over-1", "usable_password": "true"},
        )
        assert response.status_code == 403
        assert client.post(url(User, "delete", target.pk), {"post": "yes"}).status_code == 403
        response = client.post(
            url(User, "changelist"),
            {"action": "delete_selected", "_selected_action": [target.pk], "post": "yes"},
        )
        assert response.status_code == 403
        assert snapshot(target) == before

    # A person of its own account holding no more than it does: changed.
    person = User.objects.create_user("alice-helper", account=account)
    response = client.post(url(User, "change", person.pk), user_form(person, first_name="Ann"))
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.first_name == "Ann"


def test_a_login_adds_people_to_its_own_account_only(manager):
    _, client, account, other = manager
    response = client.post(
        url(User, "add"),
        {"username": "alice-new", "account": other.pk, "usable_password": "false"},
    )
    assert response.status_code == 302
    added = User.objects.get(username="alice-new")
    assert added.account == account
    assert not added.is_superuser and not added.is_staff


def test_groups_are_for_superusers_only(manager, admin_client):
    _, client, *_ = manager
    group = Group.objects.get(name="Support")
    assert client.get(url(Group, "changelist")).status_code == 403
    assert client.get(url(Group, "change", group.pk)).status_code == 403
    assert client.post(url(Group, "add"), {"name": "Mine"}).status_code == 403
    assert not Group.objects.filter(name="Mine").exists()
    assert admin_client.get(url(Group, "change", group.pk)).status_code == 200


# --- People and the API --------------------------------------------------------------------------


def test_people_get_no_api_key(make_account, anon):
    alice = make_account("alice")
    User.objects.create_user("alice-person", password="pw-person-1", account=alice.user)
    response = anon.post(
        "/api/v1/auth/api-token",
        {"username": "alice-person", "password": "pw-person-1"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}

    # A key of an account that is made one of another account's people stops working.
    carol = make_account("carol")
    assert carol.client.get("/api/v1/rooms/").status_code == 200
    carol.user.account = alice.user
    carol.user.full_clean(exclude=["password"])
    carol.user.save()
    assert carol.client.get("/api/v1/rooms/").status_code == 401


def test_people_belong_to_an_account_one_level_deep(make_account):
    from django.core.exceptions import ValidationError

    alice, bob = make_account("alice"), make_account("bob")
    person = User.objects.create_user("alice-person", account=alice.user)
    nested = User(username="nested", account=person)
    with pytest.raises(ValidationError, match="not one of its people"):
        nested.full_clean(exclude=["password"])
    alice.user.account = bob.user
    with pytest.raises(ValidationError, match="people of its own"):
        alice.user.full_clean(exclude=["password"])
    person.account = person
    with pytest.raises(ValidationError, match="of itself"):
        person.full_clean(exclude=["password"])


def test_an_account_login_itself_is_scoped_too(world):
    """The account's own login made staff (no `account` set) sees its own rows only."""
    mine, theirs = world
    mine.account.is_staff = True
    mine.account.save()
    mine.account.user_permissions.set(every_permission())
    client = Client()
    client.force_login(mine.account)
    listed = set(
        client.get(url(Room, "changelist")).context["cl"].queryset.values_list("pk", flat=True)
    )
    assert listed == mine.pks(Room)
    assert is_missing(client.get(url(Room, "change", theirs.rows[Room][0].pk)))
    users = set(
        client.get(url(User, "changelist")).context["cl"].queryset.values_list("pk", flat=True)
    )
    assert users == mine.pks(User)


# --- Letting an account's people in ------------------------------------------------------------


def test_create_person_lets_one_of_an_accounts_people_into_its_admin(make_account):
    alice, bob = make_account("alice"), make_account("bob")
    mine, theirs = RoomFactory(account=alice.user), RoomFactory(account=bob.user)
    support = Group.objects.create(name="Support")
    support.permissions.set(Permission.objects.filter(codename__in=["view_room", "view_message"]))
    err = io.StringIO()
    call_command(
        "create_person", "ann", "--account", "alice", "--password", "pw-ann-long-1",
        "--group", "Support", stderr=err,
    )  # fmt: skip
    assert "staff login of account 'alice'" in err.getvalue()
    ann = User.objects.get(username="ann")
    assert (ann.account, ann.is_staff, ann.is_superuser) == (alice.user, True, False)

    client = Client()
    assert client.login(request=HttpRequest(), username="ann", password="pw-ann-long-1")
    listed = client.get(url(Room, "changelist")).context["cl"].queryset
    assert list(listed) == [mine]
    assert is_missing(client.get(url(Room, "change", theirs.pk)))
    assert client.get(url(Lead, "changelist")).status_code == 403  # not in its groups

    for args, error in [
        (["bea", "--account", "nobody"], "No account 'nobody'"),
        (["bea", "--account", "ann"], "No account 'ann'"),
        (["bea", "--account", "alice", "--group", "Admins"], "No group 'Admins'"),
        (["ann", "--account", "alice"], "already exists"),
    ]:
        with pytest.raises(CommandError, match=error):
            call_command("create_person", *args, stderr=io.StringIO())
    assert not User.objects.filter(username="bea").exists()
