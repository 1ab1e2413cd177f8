"""The embedding model's memory per process (docs/bot.md, "The embedding model's memory").

    .venv/bin/python bench/embedding_memory.py

Prints the process's RSS (its anonymous part, the process's own, and its file-backed part, pages
of the page cache that every process mapping the same file shares; from /proc/self/status, Linux
only) and its peak RSS (ru_maxrss) with Django and the project
imported, after loading the encoder, after encoding a question, after batches of 32 short
entries, and after 32 entries of the model's 256 tokens (encoded as the task worker does, in
calls of at most embedding.TOKENS_PER_CALL padded tokens).
"""

import os
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def memory() -> str:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
            fields[key] = int(value.split()[0]) // 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return (
        f"RSS {fields['VmRSS']} MB (anonymous {fields['RssAnon']}, file-backed"
        f" {fields['RssFile']}), peak RSS {peak} MB"
    )


def main() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "askhandle.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    from knowledge import embedding, search  # noqa: F401 (what a web process imports)

    print("Django and the project imported:", memory())
    model = embedding.encoder()
    print("encoder loaded:", memory())
    model.encode(["Where do I put my coupon?"])
    print("after a question:", memory())
    short = [
        f"Do you stock item number {n}? Yes, item {n} is in stock, and it ships within two days."
        for n in range(32)
    ]
    for _ in range(10):
        model.encode_many(short)
    print("after 10 batches of 32 short entries:", memory())
    model.encode_many([f"word{n} " * 300 for n in range(32)])
    print("after a batch of 32 entries of 256 tokens:", memory())


if __name__ == "__main__":
    main()
