"""A real browser: headless Chromium (Debian's `chromium` and `chromium-driver`, driven by
Selenium) logs into the admin as a superuser made for the test, opens a room with its messages
inline, and loads the Swagger UI docs page, asserting what a person sees there. Screenshots go to
artifacts/browser-*.png.

    slow/run browser        # installs chromium, chromium-driver and selenium when missing

The server is gunicorn with production settings (DEBUG off, static files collected and served by
WhiteNoise) on a scratch SQLite database.
"""

import asyncio
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from slow import harness

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get(
    "CHROMEDRIVER", shutil.which("chromedriver") or "/usr/bin/chromedriver"
)
ROOM_NAME = "Order help (browser check)"
MESSAGES = [
    ("Hello, my order #1042 has not arrived yet.", "Dana"),
    ("Could you tell me where it is?", "Dana"),
]


@pytest.fixture(scope="module")
def server():
    with harness.site("browser") as env:
        key = harness.account_with_key(env, "browser-admin", superuser=True)
        with harness.Server(env, workers=2) as running:
            yield running, key


@pytest.fixture(scope="module")
def room(server):
    server, key = server

    async def make():
        connection = harness.Connection(server.port)
        answer = await connection.request(
            # The bot off: the conversation shown is the visitor's messages alone.
            "POST",
            "/api/v1/rooms/",
            key=key,
            payload={"name": ROOM_NAME, "is_bot_use": False},
        )
        assert answer.status == 201, answer
        room = answer.json()
        for body, nickname in MESSAGES:
            answer = await connection.request(
                "POST",
                "/api/v1/messages/",
                key=key,
                payload={"room": {"uuid": room["uuid"]}, "body": body, "nickname": nickname},
            )
            assert answer.status == 201, answer
        await connection.close()
        return room

    return asyncio.run(make())


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(browser, name: str) -> Path:
    path = harness.artifact(f"browser-{name}.png")
    assert browser.save_screenshot(str(path)), f"no screenshot {path}"
    return path


def wait(browser, seconds: float = 20) -> WebDriverWait:
    return WebDriverWait(browser, seconds)


def console_errors(browser) -> list[str]:
    # The browser's own guess at /favicon.ico (a JSON 404 here) is not the page's doing.
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" and "/favicon.ico " not in entry["message"]
    ]


def test_admin_login_and_room_with_its_messages(server, room, browser):
    server, _ = server
    browser.get(f"{server.base}/admin/")
    # Not logged in: the admin sends a person to its login form.
    assert "/admin/login/" in browser.current_url
    browser.find_element(By.ID, "id_username").send_keys("browser-admin")
    browser.find_element(By.ID, "id_password").send_keys("browser-admin-Pw-9271")
    screenshot(browser, "1-login")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    wait(browser).until(ec.presence_of_element_located((By.ID, "user-tools")))
    assert "BROWSER-ADMIN" in browser.find_element(By.ID, "user-tools").text.upper()
    content = browser.find_element(By.ID, "content").text
    assert "Site administration" in content
    assert "Rooms" in content and "Messages" in content
    # The admin's stylesheet loaded (served by WhiteNoise with DEBUG off): the header is styled.
    header = browser.find_element(By.ID, "header")
    assert header.value_of_css_property("background-color") not in ("rgba(0, 0, 0, 0)", "")
    screenshot(browser, "2-admin-home")

    browser.find_element(By.LINK_TEXT, "Rooms").click()
    wait(browser).until(ec.presence_of_element_located((By.ID, "result_list")))
    assert room["label"] in browser.find_element(By.ID, "result_list").text
    browser.find_element(By.LINK_TEXT, room["label"]).click()

    wait(browser).until(ec.presence_of_element_located((By.ID, "id_name")))
    assert browser.find_element(By.ID, "id_name").get_attribute("value") == ROOM_NAME
    inline = browser.find_element(By.CSS_SELECTOR, ".inline-group")
    assert "MESSAGES" in inline.find_element(By.TAG_NAME, "h2").text.upper()
    # The rows a person sees (the admin's hidden template row for "add another" excluded).
    rows = [row for row in inline.find_elements(By.CSS_SELECTOR, "tbody tr") if row.is_displayed()]
    shown = [
        (
            row.find_element(By.CSS_SELECTOR, "textarea[name$='-body']").get_attribute("value"),
            row.find_element(By.CSS_SELECTOR, "input[name$='-nickname']").get_attribute("value"),
        )
        for row in rows
        if row.find_elements(By.CSS_SELECTOR, "textarea[name$='-body']")
    ]
    # Oldest first, as a conversation reads.
    assert shown == MESSAGES
    browser.execute_script("arguments[0].scrollIntoView()", inline)
    screenshot(browser, "3-room-with-messages")
    assert console_errors(browser) == []


def test_api_docs_page_renders_from_this_server(server, browser):
    server, _ = server
    browser.get(f"{server.base}/api/v1/docs/")
    title = wait(browser).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, ".swagger-ui .info .title"))
    )
    assert "AskHandle API (self-hosted)" in title.text
    wait(browser).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, ".opblock-summary-path"))
    )
    paths = {
        element.text.replace("\u200b", "")
        for element in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    }
    assert {"/api/v1/messages/", "/api/v1/rooms/", "/api/v1/leads/"} <= paths, paths
    # The "Authorize" button a person uses to paste their key.
    assert browser.find_element(By.CSS_SELECTOR, ".btn.authorize").is_displayed()

    screenshot(browser, "4-api-docs")

    # Open one operation as a person would and see its description.
    messages_post = browser.find_element(By.CSS_SELECTOR, "#operations-messages-messages_create")
    messages_post.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait(browser).until(
        ec.text_to_be_present_in_element(
            (By.CSS_SELECTOR, "#operations-messages-messages_create"), "Post a message"
        )
    )
    browser.execute_script("arguments[0].scrollIntoView()", messages_post)
    screenshot(browser, "5-api-docs-message-create")

    # Everything the page loaded came from this server: no CDN.
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    origin = urlsplit(server.base).netloc
    assert resources, "the page loaded no resources?"
    assert [url for url in resources if urlsplit(url).netloc != origin] == []
    assert any("swagger-ui-bundle" in url for url in resources), resources
    assert console_errors(browser) == []
