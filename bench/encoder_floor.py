"""What the bot's sentence encoder costs one question on this machine, whatever the rest of a chat
turn costs: the lower bound the encoder sets on a chat turn's CPU (docs/performance.md, "What
the chat turn cannot go below").

    .venv/bin/python bench/encoder_floor.py [--calls 200] [--evict 64]

The encoder the server runs (BOT_ENCODER, one thread by default), loaded as the server loads it.
Prints the time of one call for questions of a few lengths, back to back and with memory written
between calls (`--evict` MB, as a server's other work does between two questions); then
questions encoded together in one call (what batching concurrent requests would give: the batch
is padded to its longest question), both ways; then questions encoded one per call from 1, 2
and 4 threads at once (what a worker's request threads do today), as questions per second and
the cores' time per question (the threads keep at most that many cores busy).
"""

import argparse
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Visitors' questions of the bench's kind (bench/run.py's chat turn asks the shop base's).
QUESTIONS = [
    "can I pay in installments?",
    "do you ship to canada",
    "how long does delivery take to europe",
    "what is your return policy on sale items",
    "is there a warranty",
    "my order arrived broken, what now?",
    "can i change my address after ordering",
    "do you have gift cards",
]


def per_call(function, calls):
    function()  # warm
    started = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - started) / calls * 1000


def per_call_evicted(function, calls, buffer):
    """As per_call(), with `buffer` written between calls (untimed): the caches hold something
    else when each call starts, as in a server, where a request's other work runs between two
    questions."""
    total = 0.0
    for _ in range(calls):
        buffer += 1
        started = time.perf_counter()
        function()
        total += time.perf_counter() - started
    return total / calls * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument(
        "--evict",
        type=int,
        default=64,
        metavar="MB",
        help="also time one question per call with this much memory written between calls",
    )
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "askhandle.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from knowledge import embedding

    encoder = embedding.encoder()
    print(f"encoder: {encoder.runtime}, {os.cpu_count()} cores")

    print("\none question per call")
    for text in ("hi", QUESTIONS[0], "what is your return policy for items bought on sale?"):
        tokens = len(encoder.tokenizer.encode(text))
        ms = per_call(lambda text=text: encoder.encode([text]), args.calls)
        print(f"  {tokens:3} tokens  {ms:6.2f} ms")

    buffer = None
    if args.evict:
        import numpy as np

        buffer = np.zeros(args.evict * 2**20 // 8)
        print(f"\none question per call, {args.evict} MB written between calls")
        for text in ("hi", QUESTIONS[0]):
            tokens = len(encoder.tokenizer.encode(text))
            ms = per_call_evicted(lambda text=text: encoder.encode([text]), args.calls, buffer)
            print(f"  {tokens:3} tokens  {ms:6.2f} ms")

    print("\nquestions together in one call (padded to the longest)")
    for size in (1, 2, 4, 8):
        batch = QUESTIONS[:size]
        calls = max(args.calls // size, 20)
        ms = per_call(lambda batch=batch: encoder.encode(batch), calls)
        line = f"  {size} questions  {ms:6.2f} ms a call  {ms / size:5.2f} ms a question"
        if args.evict:
            cold = per_call_evicted(lambda batch=batch: encoder.encode(batch), calls, buffer)
            line += f"  ({cold / size:5.2f} with {args.evict} MB written between calls)"
        print(line)

    print("\none question per call, from threads at once")
    for threads in (1, 2, 4):
        calls = args.calls

        def work(start, calls=calls):
            for k in range(calls):
                encoder.encode([QUESTIONS[(start + k) % len(QUESTIONS)]])

        pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
        started = time.perf_counter()
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        rate = threads * calls / (time.perf_counter() - started)
        busy = min(threads, os.cpu_count() or 1)  # cores kept busy, at most
        print(
            f"  {threads} threads  {rate:5.0f} questions/s  "
            f"{busy * 1000 / rate:5.2f} ms of a core a question"
        )


if __name__ == "__main__":
    main()
