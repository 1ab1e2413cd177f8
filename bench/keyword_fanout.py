"""How long one visitor message holds SQLite's write lock against an account's keywords.

    .venv/bin/python bench/keyword_fanout.py [--repeat 5]

A scratch SQLite file (WAL, IMMEDIATE transactions: the write lock is held from BEGIN to
COMMIT, as in production), one account subscribed to `keyword_notification.added` and
`message.added`, a room with the bot off, and `message_create` of a 10,000-character message
timed from BEGIN to COMMIT (the call is one transaction). Scenarios:

- `quota`: the most keywords an account may have (KEYWORDS_PER_ACCOUNT, 1,000), every one of
  them in the message: the most work a message can cause (20 notifications).
- `trie-worst`: 1,000 keywords built to make the one-pass matcher walk deepest (99-character
  keywords sharing a 98-character prefix with a message that repeats it).
- `before`: the code before the quotas, reproduced (a regex per keyword, no cap) with 20,000
  keywords, as the security review did.

Prints the median and maximum of `--repeat` messages per scenario, and the notifications,
events and deliveries one message made.
"""

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup(path: str):
    os.environ["SQLITE_PATH"] = path
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DEBUG", "1")
    os.environ["BOT_EMBEDDINGS"] = "0"
    os.environ["DJANGO_SETTINGS_MODULE"] = "askhandle.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def regex_per_keyword(text, keywords, limit=None):
    """The matcher before this change: one regex search per keyword."""
    haystack = unicodedata.normalize("NFC", text).casefold()
    found = []
    for keyword in keywords:
        words = r"\s+".join(map(re.escape, keyword.split()))
        if re.search(rf"(?<!\w){words}(?!\w)", haystack):
            found.append(keyword)
    return found


def scenario(name: str, repeat: int) -> dict:
    from django.conf import settings

    from accounts.services import account_create
    from keywords import services as keyword_services
    from keywords.matching import keyword_normalize
    from keywords.models import Keyword, KeywordNotification
    from messaging.reactions import Answering
    from messaging.services import message_create
    from rooms.models import Room
    from webhooks.models import Delivery, Event, Webhook

    account = account_create(username=f"bench-{name}")
    for event in ("keyword_notification.added", "message.added"):
        Webhook.objects.create(account=account, event=event, target="https://h.example.com/")
    room = Room.objects.create(account=account, label=f"room-{name}", is_bot_use=False)

    if name == "quota":
        words = [f"kw{n}" for n in range(settings.KEYWORDS_PER_ACCOUNT)]
        listed = " ".join(words) + " "
        body = listed + "x" * (10_000 - len(listed))
    elif name == "trie-worst":
        prefix = "-".join(["a"] * 49)  # 97 characters, 97 tokens
        words = [f"{prefix}-{chr(0x4E00 + n)}" for n in range(1000)]
        body = ("a-" * 5000)[:10_000]
    else:
        words = [f"k{n}" for n in range(20_000)]
        listed = " ".join(words)[:10_000]
        body = listed[: listed.rfind(" ")]
        body += " " * (10_000 - len(body))
    assert len(body) == 10_000, len(body)
    Keyword.objects.bulk_create(
        Keyword(account=account, keyword=w, normalized=keyword_normalize(w)) for w in words
    )

    original = keyword_services.keywords_matching, settings.KEYWORD_NOTIFICATIONS_PER_MESSAGE
    if name == "before":
        keyword_services.keywords_matching = regex_per_keyword
        settings.KEYWORD_NOTIFICATIONS_PER_MESSAGE = None
    times = []
    try:
        for _ in range(repeat):
            started = time.perf_counter()
            message = message_create(
                account=account, room=room, answer=Answering.NONE, body=body, nickname="b"
            )
            times.append(time.perf_counter() - started)
    finally:
        keyword_services.keywords_matching, settings.KEYWORD_NOTIFICATIONS_PER_MESSAGE = original
    notifications = KeywordNotification.objects.filter(message=message).count()
    events = Event.objects.filter(account=account).count() // repeat
    deliveries = Delivery.objects.filter(webhook__account=account).count() // repeat
    return {
        "scenario": name,
        "keywords": len(words),
        "median_ms": statistics.median(times) * 1000,
        "max_ms": max(times) * 1000,
        "notifications": notifications,
        "events": events,
        "deliveries": deliveries,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scenarios", default="quota,trie-worst,before")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        setup(str(Path(scratch) / "bench.sqlite3"))
        print("| scenario | keywords | median | max | notifications / events / deliveries |")
        print("|---|---|---|---|---|")
        for name in args.scenarios.split(","):
            repeat = 1 if name == "before" else args.repeat
            r = scenario(name, repeat)
            print(
                f"| {r['scenario']} | {r['keywords']:,} | {r['median_ms']:.1f} ms | "
                f"{r['max_ms']:.1f} ms | {r['notifications']} / {r['events']} / "
                f"{r['deliveries']} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
