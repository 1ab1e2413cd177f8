"""The security review's case, as deployed: SQLite in a file (one writer at a time, writers wait
up to the busy timeout), the web server (askhandle.web) and `manage.py db_worker`. 500 entries
created through the API, then a visitor's message while another account writes: neither waits
for the entries' vectors.

The tests' own SQLite database is in memory and does not wait for locks, so this runs the server
in a subprocess on a database file of its own (a few seconds to migrate)."""

import http.client
import json
import shutil
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from slow import harness

from .test_embedding import COUPON, SHOP

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's single writer; PostgreSQL: the in-process test"
)

ENTRIES = 500


class Client:
    def __init__(self, port: int, key: str):
        self.port, self.key = port, key

    def post(self, path: str, payload: dict) -> tuple[int, dict, float]:
        started = time.monotonic()
        # A connection per request: the server closes idle ones while the worker runs.
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        connection.request(
            "POST",
            path,
            body=json.dumps(payload),
            headers={"Authorization": f"Token {self.key}", "Content-Type": "application/json"},
        )
        answer = connection.getresponse()
        body = json.loads(answer.read() or b"{}")
        connection.close()
        return answer.status, body, time.monotonic() - started

    def ask(self, text: str) -> tuple[dict, float]:
        status, room, _ = self.post("/api/v1/rooms/", {"is_bot_use": True})
        assert status == 201, room
        status, message, took = self.post(
            "/api/v1/messages/", {"body": text, "room": {"uuid": room["uuid"]}}
        )
        assert status == 201, message
        return message, took


@pytest.fixture
def database(tmp_path):
    """A database file; in memory-backed /dev/shm where there is one (a commit's fsync on a
    disk made the 500 writes take a minute on a loaded machine)."""
    shm = Path("/dev/shm")
    directory = Path(tempfile.mkdtemp(dir=shm)) if shm.is_dir() else tmp_path
    yield directory / "db.sqlite3"
    if directory != tmp_path:
        shutil.rmtree(directory, ignore_errors=True)


def missing_vectors(path) -> int:
    with sqlite3.connect(path) as db:
        query = "SELECT count(*) FROM knowledge_knowledgeentry WHERE embedding IS NULL"
        return db.execute(query).fetchone()[0]


def test_500_new_entries_hold_no_visitor_and_no_other_account(database, tmp_path):
    path = database
    env = harness.server_env(f"sqlite:///{path}", SQLITE_PATH=str(path))
    env.pop("BOT_EMBEDDINGS", None)
    harness.manage("migrate", "--noinput", "-v0", env=env)
    keys = {
        name: harness.manage("create_account", name, "--key-name", "test", env=env)
        for name in ("alice", "bob")
    }

    def worker():  # the task worker, until no task is left
        harness.manage("db_worker", "--batch", "--no-reload", "--interval", "0", env=env)

    # One process with threads (as ./dev serve's workers): the visitor's message and
    # bob's write are served at the same time, each on its own database connection.
    with harness.Server(env, workers=1, threads=4, log=tmp_path / "server.log") as server:
        alice, bob = Client(server.port, keys["alice"]), Client(server.port, keys["bob"])
        status, _, _ = alice.post(
            "/api/v1/knowledge/", {"question": "Opening hours?", "answer": "9 am to 5 pm."}
        )
        assert status == 201
        worker()
        alice.ask("When are you open?")  # the process loads the model (its first question)

        stock = [
            (f"Do you stock item number {n}?", f"Yes, item {n} is in stock.") for n in range(496)
        ]
        for question, answer in stock + SHOP:
            status, body, _ = alice.post(
                "/api/v1/knowledge/", {"question": question, "answer": answer}
            )
            assert status == 201, body
        assert missing_vectors(path) == ENTRIES

        asked = {}

        def visitor_asks():
            asked["message"], asked["took"] = alice.ask("Where do I put my coupon?")

        visitor = threading.Thread(target=visitor_asks)
        visitor.start()
        time.sleep(0.02)  # bob writes while alice's message is being answered
        status, _, bob_took = bob.post("/api/v1/knowledge/", {"question": "Bob?", "answer": "Bob."})
        visitor.join()
        assert status == 201
        assert bob_took < 1.0, bob_took  # was: until alice's message had encoded 500 entries
        assert asked["took"] < 2.0, asked  # the room's creation and the message
        assert asked["message"]["terminated"] is True  # words alone: not yet the coupon's entry
        assert missing_vectors(path) == ENTRIES + 1

        worker()
        assert missing_vectors(path) == 0
        message, _ = alice.ask("Where do I put my coupon?")
        assert (message["support_answer"], message["terminated"]) == (COUPON, False)
