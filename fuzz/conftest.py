"""The fuzzing suite (slow; run alone with `./dev test fuzz`): schemathesis generates requests
from our own OpenAPI schema and checks every answer against it."""

import collections
import os

# Requests sent by the fuzzing test, by (operation, status); read by the summary below.
SENT: collections.Counter = collections.Counter()
MIN_REQUESTS = int(os.environ.get("FUZZ_MIN_REQUESTS", "5000"))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not SENT:
        return
    total = sum(SENT.values())
    operations = {operation for operation, _ in SENT}
    statuses = collections.Counter()
    for (_, status), n in SENT.items():
        statuses[status] += n
    terminalreporter.section("schemathesis")
    terminalreporter.write_line(
        f"{total} generated requests over {len(operations)} operations; by status: "
        + ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
    )
    for operation in sorted(operations):
        counts = {status: n for (op, status), n in SENT.items() if op == operation}
        terminalreporter.write_line(f"  {operation}: {dict(sorted(counts.items()))}")
