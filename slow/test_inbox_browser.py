"""The inbox updates live, as a person and a visitor use it (issue 17, docs/people.md): headless
Chromium (Selenium) logs a staff login of an account into the admin and opens the inbox; a
visitor writes through the API in a room whose bot is off and the conversation appears without a
reload; opened, the visitor's next message appears without a reload while the reply box keeps
what the person is typing; the person sends the reply, and the visitor's client gets it as
`support_answer`, polling `GET /api/v1/messages/<uuid>/` as the vendor's sample frontend does
(every 1.5 s, up to 10 times) and long-polling it with `?wait=10`. Another account's visitor
writes meanwhile and never shows. Screenshots: artifacts/inbox-*.png.

    slow/run inbox        # installs chromium, chromium-driver and selenium when missing

The server is the real one (askhandle/web.py: granian, askhandle/asgi.py) with production
settings on a scratch SQLite database.
"""

import json
import threading
import time
import urllib.request
from dataclasses import dataclass

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from slow import harness, test_browser
from slow.test_browser import console_errors, wait

browser = test_browser.browser  # the same headless Chromium fixture

STAFF = "inbox-person"
PASSWORD = f"{STAFF}-Pw-9271"
OTHER = "inbox-other"
FIRST = "Hello, my order #2210 has not arrived yet."
SECOND = "It was due on Monday. Can someone help?"
OTHERS = "A visitor of another account (never in this inbox)"
TYPED = "Hi Dana, I am looking at order #2210"
REPLY = TYPED + ": it left our warehouse this morning and arrives tomorrow."
# The vendor's sample frontend: GET the message every 1.5 s, up to 10 times, for support_answer.
POLL_EVERY, POLL_TIMES = 1.5, 10


@pytest.fixture(scope="module")
def server():
    with harness.site("inbox") as env:
        keys = {
            STAFF: harness.account_with_key(env, STAFF),
            OTHER: harness.account_with_key(env, OTHER),
        }
        # A staff login of its own account (not a superuser): the inbox scoped to the account.
        harness.manage(
            "shell", "-c",
            f"from accounts.models import User; User.objects.filter(username={STAFF!r})"
            ".update(is_staff=True)",
            env=env,
        )  # fmt: skip
        with harness.Server(env, workers=2, log=harness.artifact("inbox-server.log")) as running:
            yield running, keys


def api(server, key: str, method: str, path: str, payload=None, timeout: float = 30) -> dict:
    request = urllib.request.Request(
        server.base + path,
        method=method,
        data=None if payload is None else json.dumps(payload).encode(),
        headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        assert answer.status in (200, 201), answer.status
        return json.load(answer)


def visitor_writes(server, key: str, room: dict, body: str) -> dict:
    message = api(
        server, key, "POST", "/api/v1/messages/",
        {"room": {"uuid": room["uuid"]}, "body": body, "nickname": "Dana"},
    )  # fmt: skip
    assert message["support_answer"] is None  # the bot is off: nobody answered yet
    return message


@dataclass(eq=False)  # a thread is hashed by identity
class Waiter(threading.Thread):
    """A visitor's client waiting for `support_answer` of a message, in the background: polling
    as the vendor's frontend does, or one long-poll (`?wait=`)."""

    server: object
    key: str
    uuid: str
    long_poll: float | None = None
    answer: str | None = None
    polls: int = 0
    seconds: float = 0.0
    error: BaseException | None = None

    def __post_init__(self):
        super().__init__(daemon=True)

    def run(self):
        started = time.monotonic()
        try:
            if self.long_poll is not None:
                path = f"/api/v1/messages/{self.uuid}/?wait={self.long_poll:g}"
                self.polls = 1
                self.answer = api(self.server, self.key, "GET", path)["support_answer"]
            else:
                for _ in range(POLL_TIMES):
                    self.polls += 1
                    path = f"/api/v1/messages/{self.uuid}/"
                    answer = api(self.server, self.key, "GET", path)["support_answer"]
                    if isinstance(answer, str) and answer.strip():
                        self.answer = answer
                        break
                    time.sleep(POLL_EVERY)
        except BaseException as exc:  # reported by the test
            self.error = exc
        self.seconds = time.monotonic() - started


def screenshot(browser, name: str) -> None:
    path = harness.artifact(f"inbox-{name}.png")
    assert browser.save_screenshot(str(path)), f"no screenshot {path}"


def mark_page(browser) -> None:
    """A marker in the page's window: it survives exactly as long as the page is not reloaded."""
    browser.execute_script("window.inboxCheckMarker = 'this page, not reloaded';")


def assert_not_reloaded(browser) -> None:
    assert browser.execute_script("return window.inboxCheckMarker") == (
        "this page, not reloaded"
    ), "the page was reloaded"


def wait_live(browser) -> None:
    """The page's event stream is open (bot/inbox-live.js marks the document)."""
    wait(browser).until(
        lambda b: b.execute_script("return document.documentElement.dataset.inboxLive") == "open"
    )


def test_the_inbox_updates_live_and_the_reply_reaches_the_visitor(server, browser):
    server, keys = server
    key = keys[STAFF]
    room = api(server, key, "POST", "/api/v1/rooms/", {"name": "Order #2210", "is_bot_use": False})
    others_room = api(server, keys[OTHER], "POST", "/api/v1/rooms/", {"is_bot_use": False})
    figures = {}

    # The person logs in and opens the inbox: nothing waits yet.
    browser.get(f"{server.base}/admin/bot/inboxroom/")
    assert "/admin/login/" in browser.current_url
    browser.find_element(By.ID, "id_username").send_keys(STAFF)
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait(browser).until(ec.presence_of_element_located((By.ID, "inbox-empty")))
    wait_live(browser)
    mark_page(browser)
    screenshot(browser, "1-empty")

    # Another account's visitor writes, then this account's: only this account's appears, and
    # without a reload.
    visitor_writes(server, keys[OTHER], others_room, OTHERS)
    started = time.monotonic()
    first = visitor_writes(server, key, room, FIRST)
    link = (By.CSS_SELECTOR, f'a.inbox-conversation[data-room-uuid="{room["uuid"]}"]')
    wait(browser).until(ec.presence_of_element_located(link))
    figures["list_appears_seconds"] = round(time.monotonic() - started, 2)
    assert_not_reloaded(browser)
    listed = browser.find_element(By.ID, "inbox-conversations")
    assert FIRST in listed.text
    assert OTHERS not in listed.text
    assert others_room["uuid"] not in listed.get_attribute("innerHTML")
    assert listed.get_attribute("data-count") == "1"
    # The admin's actions work on the renewed list: selecting the row counts it.
    row = browser.find_element(*link).find_element(By.XPATH, "ancestor::tr")
    row.find_element(By.CSS_SELECTOR, "input.action-select").click()
    wait(browser).until(
        ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".action-counter"), "1 of 1 selected")
    )
    # (Found again: a wake-up may have renewed the list since; the selection survives that.)
    wait(browser).until(
        lambda b: (
            "selected"
            in b.find_element(*link).find_element(By.XPATH, "ancestor::tr").get_attribute("class")
        )
    )
    screenshot(browser, "2-conversation-appeared")

    # The person opens it and starts typing; the visitor writes again meanwhile.
    browser.find_element(*link).click()
    wait(browser).until(ec.presence_of_element_located((By.ID, f"message-{first['uuid']}")))
    wait_live(browser)
    mark_page(browser)
    box = browser.find_element(By.ID, "inbox-reply-body")
    box.click()
    box.send_keys(TYPED)

    started = time.monotonic()
    second = visitor_writes(server, key, room, SECOND)
    # The visitor's frontend polls for an answer from now on.
    polling = Waiter(server, key, second["uuid"])
    polling.start()
    wait(browser).until(ec.presence_of_element_located((By.ID, f"message-{second['uuid']}")))
    figures["conversation_appears_seconds"] = round(time.monotonic() - started, 2)
    assert_not_reloaded(browser)
    shown = browser.find_elements(By.CSS_SELECTOR, "#inbox-messages li.inbox-message")
    assert [item.get_attribute("data-message-uuid") for item in shown] == [
        first["uuid"],
        second["uuid"],
    ]
    assert SECOND in shown[-1].text and shown[-1].get_attribute("data-sender") == "visitor"
    # The reply box is untouched: the same element, its text, the focus.
    assert box.get_attribute("value") == TYPED
    assert browser.switch_to.active_element == box
    screenshot(browser, "3-second-message-while-typing")

    # The person finishes the reply and sends it; a client long-polls for it meanwhile.
    box.send_keys(REPLY[len(TYPED) :])
    long_poll = Waiter(server, key, second["uuid"], long_poll=10)
    long_poll.start()
    # Let the long-poll reach the server before the reply exists (it waits there: nothing on
    # this side can be waited on).
    time.sleep(0.5)
    browser.find_element(By.ID, "inbox-reply-send").click()
    sent = wait(browser).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, "li.inbox-message--support"))
    )
    assert REPLY in sent.text
    screenshot(browser, "4-reply-sent")

    for poller in (polling, long_poll):
        poller.join(timeout=POLL_EVERY * POLL_TIMES + 15)
        assert not poller.is_alive()
        assert poller.error is None, poller.error
    assert polling.answer == REPLY, f"after {polling.polls} polls: {polling.answer!r}"
    assert long_poll.answer == REPLY
    # The long-poll waited for the reply, and was answered by it, not by its 10 s running out.
    assert 0.5 <= long_poll.seconds < 10, long_poll.seconds
    figures |= {"polls": polling.polls, "long_poll_seconds": round(long_poll.seconds, 2)}
    # And the message as any client reads it now.
    assert api(server, key, "GET", f"/api/v1/messages/{second['uuid']}/")["support_answer"] == REPLY
    assert console_errors(browser) == []
    harness.save_figures("inbox-browser", figures)
