"""Delivery signatures, in the Standard Webhooks scheme (https://www.standardwebhooks.com/), so
receivers can verify them with that project's libraries or a few lines of their own:

    signature = base64(HMAC-SHA256(key=base64decode(secret minus "whsec_"),
                                   msg=f"{webhook-id}.{webhook-timestamp}.{body}"))
    webhook-signature: "v1,<signature>" (space-separated when several secrets are valid)
"""

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def secret_generate() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, delivery_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    message = f"{delivery_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def verify(secret: str, delivery_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """What a receiver does (used by the tests, and as the documented example)."""
    expected = sign(secret, delivery_id, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in header.split())
