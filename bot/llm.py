"""An OpenAI-compatible chat-completions client, bounded in time.

Settings (from the environment): BOT_LLM_URL (the API base, e.g. `https://api.openai.com/v1`;
`/chat/completions` is appended), BOT_LLM_MODEL, BOT_LLM_API_KEY (sent as a Bearer token when
set).
"""

import json
import logging
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings

logger = logging.getLogger(__name__)

# Requests run in these threads so that a caller waits at most its timeout, however the server
# dribbles its answer (a socket timeout alone bounds each read, not the whole exchange).
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="bot-llm")
MAX_RESPONSE_BYTES = 1024 * 1024


class LlmError(Exception):
    """The model gave no usable answer (unreachable, an error status, a malformed body)."""


class LlmTimeout(LlmError):
    """The model did not answer in time."""


def llm_enabled() -> bool:
    return bool(settings.BOT_LLM_URL and settings.BOT_LLM_MODEL)


def llm_chat(*, messages: list[dict], timeout: float) -> str:
    """The model's reply to a conversation, within `timeout` seconds."""
    if timeout <= 0:
        raise LlmTimeout("no time left")
    started = time.monotonic()
    future = _pool.submit(_post, messages, timeout)
    try:
        return future.result(timeout=timeout)
    except FutureTimeout:
        raise LlmTimeout(f"no answer within {timeout:.2f} s") from None
    finally:
        logger.debug("LLM call took %.3f s", time.monotonic() - started)


def _post(messages: list[dict], timeout: float) -> str:
    payload = {
        "model": settings.BOT_LLM_MODEL,
        "messages": messages,
        "temperature": 0,
    }
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if settings.BOT_LLM_API_KEY:
        headers["Authorization"] = f"Bearer {settings.BOT_LLM_API_KEY}"
    request = urllib.request.Request(
        settings.BOT_LLM_URL.rstrip("/") + "/chat/completions",
        data=json.dumps(payload).encode(),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_RESPONSE_BYTES + 1)
    except TimeoutError:
        raise LlmTimeout("the model timed out") from None
    except (urllib.error.URLError, OSError) as error:
        raise LlmError(f"request failed: {error}") from None
    if len(body) > MAX_RESPONSE_BYTES:
        raise LlmError("response too large")
    try:
        content = json.loads(body)["choices"][0]["message"]["content"]
    except (ValueError, LookupError, TypeError):
        raise LlmError("not a chat-completions response") from None
    if not isinstance(content, str) or not content.strip():
        raise LlmError("empty answer")
    return content.strip()
