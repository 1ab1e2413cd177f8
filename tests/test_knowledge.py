"""/api/v1/knowledge/ (an extension) and `manage.py import_knowledge`."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from knowledge.models import KnowledgeEntry

URL = "/api/v1/knowledge/"


def test_crud(alice):
    created = alice.client.post(
        URL,
        {"question": "Do you ship to Canada?", "answer": "Yes.", "tags": ["canada", "shipping"]},
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert list(body) == ["uuid", "question", "answer", "tags", "created_at", "updated_at"]
    assert body["tags"] == ["canada", "shipping"]
    path = f"{URL}{body['uuid']}/"
    patched = alice.client.patch(path, {"answer": "Yes, in 5 days."}, format="json")
    assert (patched.status_code, patched.json()["answer"]) == (200, "Yes, in 5 days.")
    assert patched.json()["updated_at"] > body["updated_at"]
    listed = alice.client.get(URL).json()
    assert (listed["count"], listed["results"][0]["uuid"]) == (1, body["uuid"])
    assert alice.client.delete(path).status_code == 204
    assert not KnowledgeEntry.objects.exists()


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"answer": "x"}, {"question": ["This field is required."]}),
        ({"question": "q", "answer": ""}, {"answer": ["This field may not be blank."]}),
        ({"question": "q", "answer": "a", "tags": "x"}, {"tags": ['Expected a list of items but got type "str".']}),  # noqa: E501
        ({"question": "q", "answer": "a", "tags": ["a,b"]}, {"tags": ["A tag may not contain a comma."]}),  # noqa: E501
    ],
)  # fmt: skip
def test_validation(alice, payload, errors):
    response = alice.client.post(URL, payload, format="json")
    assert (response.status_code, response.json()) == (400, errors)
    assert not KnowledgeEntry.objects.exists()


def test_search_ranks_best_first_within_the_account(alice, bob):
    for question in ["What is your refund policy?", "How long does shipping take?"]:
        alice.client.post(URL, {"question": question, "answer": "..."}, format="json")
    bob.client.post(URL, {"question": "Refunds for bob", "answer": "..."}, format="json")
    found = alice.client.get(URL, {"search": "can I get a refund"}).json()
    assert [r["question"] for r in found["results"]] == ["What is your refund policy?"]
    assert alice.client.get(URL, {"search": "unicorns"}).json()["count"] == 0


def test_search_pages_by_offset_not_cursor(alice):
    for n in range(3):
        alice.client.post(URL, {"question": f"Refund case {n}", "answer": "..."}, format="json")
    page = alice.client.get(URL, {"search": "refund", "limit": 2}).json()
    assert (page["count"], len(page["results"])) == (3, 2)
    assert "offset=2" in page["next"]
    response = alice.client.get(URL, {"search": "refund", "cursor": ""})
    assert (response.status_code, response.json()) == (
        400,
        {"cursor": ["Cannot be combined with search."]},
    )
    # Without search, cursor pages work as on every list.
    assert len(alice.client.get(URL, {"cursor": "", "limit": 2}).json()["results"]) == 2


def test_tenancy(alice, bob):
    theirs = bob.client.post(URL, {"question": "q", "answer": "a"}, format="json").json()
    assert alice.client.get(f"{URL}{theirs['uuid']}/").status_code == 404
    assert alice.client.delete(f"{URL}{theirs['uuid']}/").status_code == 404
    assert alice.client.get(URL).json()["count"] == 0
    assert alice.client.get(URL, {"search": "q"}).json()["count"] == 0


def test_requires_a_key(anon):
    assert anon.get(URL).status_code == 401


# --- import_knowledge ---


def run_import(tmp_path, name, text, account="alice"):
    path = tmp_path / name
    path.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    call_command("import_knowledge", str(path), account=account, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def entries(account):
    return sorted(
        KnowledgeEntry.objects.filter(account=account).values_list("question", "answer", "tags")
    )


def test_import_csv_then_again_updates_and_skips(tmp_path, alice):
    text = (
        "question,answer,tags\n"
        'How long does shipping take?,3 to 5 days.,"delivery, shipping"\n'
        '"What is your\nrefund policy?",30 days.,\n'
    )
    out, err = run_import(tmp_path, "kb.csv", text)
    assert "2 created, 0 updated, 0 skipped" in out
    assert "Importing [" in err and "2/2" in err
    assert entries(alice.user) == [
        ("How long does shipping take?", "3 to 5 days.", "delivery, shipping"),
        ("What is your refund policy?", "30 days.", ""),
    ]
    text = text.replace("3 to 5 days.", "2 to 4 days.") + "Do you ship abroad?,Yes.,\n"
    out, _ = run_import(tmp_path, "kb.csv", text)
    assert "1 created, 1 updated, 1 skipped" in out
    assert len(entries(alice.user)) == 3


def test_import_json(tmp_path, alice):
    data = [
        {"question": "Q one", "answer": "A one", "tags": ["x", "y"]},
        {"question": "Q two", "answer": "A two", "tags": "z"},
        {"question": "Q three", "answer": "A three", "tags": None},
    ]
    out, _ = run_import(tmp_path, "kb.json", json.dumps(data, indent=2))
    assert "3 created" in out
    assert entries(alice.user) == [
        ("Q one", "A one", "x, y"),
        ("Q three", "A three", ""),
        ("Q two", "A two", "z"),
    ]


def test_import_markdown(tmp_path, alice):
    text = (
        "# How long does shipping take?\n\n3 to 5 days.\n\nExpress: 1 day.\n"
        "Tags: delivery, shipping\n\n## What is your refund policy?\n30 days.\n"
        "```\n# not a heading\n```\n"
    )
    out, _ = run_import(tmp_path, "kb.md", text)
    assert "2 created" in out
    assert entries(alice.user) == [
        ("How long does shipping take?", "3 to 5 days.\n\nExpress: 1 day.", "delivery, shipping"),
        ("What is your refund policy?", "30 days.\n```\n# not a heading\n```", ""),
    ]


@pytest.mark.parametrize(
    ("name", "text", "error"),
    [
        ("kb.csv", "question,answer\nok,fine\nno answer here,\n", "kb.csv, line 3: the answer is missing or empty"),  # noqa: E501
        ("kb.csv", "question,body\n", "kb.csv, line 1: the header has no \"answer\" column"),
        ("kb.csv", "question,answer\na,b\nc,d,e\n", "kb.csv, line 3: expected 2 fields, found 3"),
        ("kb.csv", 'question,answer\na,"b\n', "line 2: malformed CSV"),
        ("kb.json", '[\n  {"question": "a", "answer": "b"},\n  {"question": "c"}\n]', "kb.json, line 3: the answer is missing or empty"),  # noqa: E501
        ("kb.json", '[\n  {"question": "a", "answer": "b"},\n  {"question": "c", \n]', "kb.json, line 4: malformed JSON"),  # noqa: E501
        ("kb.json", '{"question": "a"}', "kb.json, line 1: expected a JSON array"),
        ("kb.md", "intro\n# Q\nA\n", "kb.md, line 1: text before the first heading"),
        ("kb.md", "# Q\nA\n# Empty\n\n", "kb.md, line 3: the answer is missing or empty"),
        ("kb.md", "# Q\nA\n# q\nB\n", "kb.md, line 3: the same question as line 1"),
    ],
)  # fmt: skip
def test_import_bad_files_change_nothing(tmp_path, alice, name, text, error):
    KnowledgeEntry.objects.create(account=alice.user, question="Q", answer="kept")
    with pytest.raises(CommandError) as raised:
        run_import(tmp_path, name, text)
    assert error in str(raised.value)
    assert "Nothing was imported" in str(raised.value)
    assert entries(alice.user) == [("Q", "kept", "")]


def test_import_is_all_or_nothing_on_a_database_error(tmp_path, alice, monkeypatch):
    from knowledge import services

    calls = []
    original = services._entry_insert

    def fail_second(**kwargs):
        calls.append(kwargs)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return original(**kwargs)

    monkeypatch.setattr(services, "_entry_insert", fail_second)
    with pytest.raises(RuntimeError):
        run_import(tmp_path, "kb.csv", "question,answer\na,b\nc,d\n")
    assert entries(alice.user) == []


def test_import_needs_a_known_account_and_format(tmp_path, alice):
    with pytest.raises(CommandError, match='No account "nobody"'):
        run_import(tmp_path, "kb.csv", "question,answer\n", account="nobody")
    with pytest.raises(CommandError, match="Cannot tell the format"):
        run_import(tmp_path, "kb.txt", "")


def test_admin_pages(alice, admin_user):
    from django.test import Client

    from bot.models import BotSettings

    entry = KnowledgeEntry.objects.create(
        account=alice.user, question="Do you ship?", answer="Yes.", tags="shipping"
    )
    settings_row = BotSettings.objects.create(account=alice.user, greeting_message="Hi")
    client = Client()
    client.force_login(admin_user)
    for page in [
        "/admin/knowledge/knowledgeentry/?q=ship",
        "/admin/knowledge/knowledgeentry/add/",
        f"/admin/knowledge/knowledgeentry/{entry.pk}/change/",
        "/admin/bot/botsettings/",
        f"/admin/bot/botsettings/{settings_row.pk}/change/",
        "/admin/bot/handoff/",
    ]:
        assert client.get(page).status_code == 200, page
    response = client.post(
        f"/admin/knowledge/knowledgeentry/{entry.pk}/change/",
        {"account": alice.user.pk, "question": "Do you ship abroad?", "answer": "Yes.", "tags": ""},
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.question == "Do you ship abroad?"
    assert entry.updated_at > entry.created_at
    # The search index follows an admin edit.
    found = alice.client.get("/api/v1/knowledge/", {"search": "abroad"}).json()
    assert [r["question"] for r in found["results"]] == ["Do you ship abroad?"]
