"""Run the README's curl examples, as written, against `./dev serve` on a scratch database.

Every ```bash block of the "Try the API with curl" section runs in order in one bash session; the
only change is the port (a free one instead of 8000). Each curl's status is recorded: all must be
2xx except the last three, which the README says answer 404, 401 and 400. Then a webhook
subscription to a receiver on loopback checks that the same server delivers webhooks.
"""

import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPECTED_TAIL = ["404", "401", "400"]


def curl_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Try the API with curl", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.S)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(port: int, path: str, body: dict | None = None, token: str | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Token {token}"} if token else {}),
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def check_webhook_delivery(port: int) -> bool:
    """The server started by the README's first command also delivers webhooks."""
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        token = api(port, "auth/api-token", {"username": "demo", "password": "demo"})["token"]
        target = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        api(port, "webhooks/", {"event": "chat.added", "target": target}, token)
        room = api(port, "rooms/", {}, token)
        deadline = time.monotonic() + 20
        while not received and time.monotonic() < deadline:
            time.sleep(0.2)
        return [r["data"]["uuid"] for r in received] == [room["uuid"]]
    finally:
        receiver.shutdown()


def main() -> int:
    blocks = curl_blocks()
    assert len(blocks) >= 10, f"expected the README's curl examples, found {len(blocks)} blocks"
    port = free_port()
    scratch = Path(tempfile.mkdtemp())
    env = os.environ | {
        "BIND": f"127.0.0.1:{port}",
        "SQLITE_PATH": str(scratch / "readme.sqlite3"),
        "WEB_CONCURRENCY": "2",
        # Only for the delivery check at the end (its receiver is on loopback); the README's
        # examples use a public target and do not depend on it.
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "1",
    }
    env.pop("DATABASE_URL", None)
    log = scratch / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(ROOT / "dev"), "serve"], env=env, start_new_session=True, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    raise SystemExit("./dev serve exited:\n" + log.read_text()) from None
                time.sleep(0.5)
        codes = scratch / "codes"
        script = "\n".join(
            [
                "set -euo pipefail",
                # Record every curl's status; print the body as curl would.
                "curl() { local out; out=$(command curl -sS -w '\\n%{http_code}' \"$@\");"
                f" printf '%s\\n' \"${{out%$'\\n'*}}\"; echo \"${{out##*$'\\n'}}\" >> {codes}; }}",
                *(block.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for block in blocks),
            ]
        )
        run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
        print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
        statuses = codes.read_text().split() if codes.exists() else []
        print("statuses:", " ".join(statuses))
        ok = (
            run.returncode == 0
            and len(statuses) > len(EXPECTED_TAIL)
            and statuses[-3:] == EXPECTED_TAIL
            and all(s.startswith("2") for s in statuses[:-3])
        )
        print("README curl examples:", "OK" if ok else "FAILED")
        delivered = check_webhook_delivery(port)
        print("./dev serve delivers webhooks:", "OK" if delivered else "FAILED")
        return 0 if ok and delivered else 1
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
