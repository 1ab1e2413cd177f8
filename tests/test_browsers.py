"""Browsers: CORS for chat frontends on other sites, security headers, deploy checks."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from leads.models import Lead

ORIGIN = "https://shop.example.com"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _allowed_origin(settings):
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]


def preflight(client, url, method="POST", origin=ORIGIN, headers="authorization,content-type"):
    return client.options(
        url,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


@pytest.mark.parametrize("url", ["/api/v1/messages/", "/api/v1/rooms", "/api/v1/leads/"])
def test_preflight_from_an_allowed_origin(anon, url):
    response = preflight(anon, url, headers="authorization,content-type,idempotency-key")

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    allowed = {h.strip() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert int(response["Access-Control-Max-Age"]) == 86400
    assert "Access-Control-Allow-Credentials" not in response  # keys are headers, not cookies


def test_preflight_from_another_origin_is_not_allowed(anon):
    response = preflight(anon, "/api/v1/messages/", origin="https://evil.example.net")
    assert "Access-Control-Allow-Origin" not in response


def test_no_origin_is_allowed_by_default(anon, settings):
    settings.CORS_ALLOWED_ORIGINS = []
    response = preflight(anon, "/api/v1/messages/")
    assert "Access-Control-Allow-Origin" not in response


def test_actual_requests_carry_cors_headers(alice):
    response = alice.client.post(
        "/api/v1/leads/",
        {"nickname": "Ann"},
        format="json",
        HTTP_ORIGIN=ORIGIN,
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert response.status_code == 201
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    exposed = {h.strip() for h in response["Access-Control-Expose-Headers"].split(",")}
    assert {"Retry-After", "Idempotent-Replayed"} <= exposed

    other = alice.client.get("/api/v1/leads/", HTTP_ORIGIN="https://evil.example.net")
    assert other.status_code == 200  # CORS is the browser's rule; the answer just lacks it
    assert "Access-Control-Allow-Origin" not in other


def test_errors_carry_cors_headers_so_the_frontend_can_read_them(anon, alice, settings):
    assert anon.get("/api/v1/leads/", HTTP_ORIGIN=ORIGIN)["Access-Control-Allow-Origin"] == ORIGIN
    settings.CLIENT_ADDRESS_THROTTLE_RATE = "1/min"
    alice.client.get("/api/v1/leads/")
    throttled = alice.client.get("/api/v1/leads/", HTTP_ORIGIN=ORIGIN)
    assert throttled.status_code == 429
    assert throttled["Access-Control-Allow-Origin"] == ORIGIN


def test_the_admin_is_not_cross_origin(anon):
    response = preflight(anon, "/admin/login/")
    assert "Access-Control-Allow-Origin" not in response


def test_api_answers_carry_security_headers(alice, anon, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    too_large = alice.client.post("/api/v1/leads/", {"nickname": "x" * 20}, format="json")
    assert too_large.status_code == 413
    settings.API_KEY_THROTTLE_RATE = "1/min"
    alice.client.get("/api/v1/rooms/")
    throttled = alice.client.get("/api/v1/rooms/")
    assert throttled.status_code == 429
    for response in [
        alice.client.get("/api/v1/leads/"),
        anon.get("/api/v1/leads/"),
        anon.get("/api/v1/nothing/"),
        too_large,
        throttled,
    ]:
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["Cross-Origin-Opener-Policy"] == "same-origin"
        assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert response["Cache-Control"] == "no-store"


def test_the_docs_page_keeps_its_scripts(anon):
    response = anon.get("/api/v1/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "Content-Security-Policy" not in response


def test_https_settings_redirect_and_send_hsts(anon, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = settings.SECURE_HSTS_PRELOAD = True

    plain = anon.post("/api/v1/leads/", {}, format="json")
    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/api/v1/leads/"
    assert not Lead.objects.exists()
    assert anon.get("/healthz").status_code == 200  # load balancers probe over plain HTTP

    secure = anon.get("/api/v1/leads/", secure=True)
    assert secure.status_code == 401
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def deploy_check(**env):
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={
            "PATH": os.environ.get("PATH", ""),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": "sqlite:///:memory:",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_passes_with_production_settings():
    result = deploy_check(HTTPS="1")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_flags_plain_http():
    result = deploy_check()
    assert result.returncode != 0
    for check in ["security.W004", "security.W008", "security.W012", "security.W016"]:
        assert check in result.stderr
