"""A stand-in relay service for dev stack tests: same env contract, trivial behaviour.

Run as ``python fake_service.py <name>``. It reads its ports from ``RELAY_<NAME>_OPS_PORT`` and
``RELAY_<NAME>_HTTP_PORT`` exactly as the real services do, answers ``/healthz`` on the ops port,
and answers every HTTP request with its own name, so a test can see where the router sent it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    name = sys.argv[1]
    assert os.environ["NATS_URL"].startswith("nats://") and os.environ["DATABASE_URL"].startswith(
        "postgresql://"
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = (
                b"ok"
                if self.path == "/healthz"
                else json.dumps({"service": name, "path": self.path}).encode()
            )
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    ports = [os.environ[f"RELAY_{name.upper()}_OPS_PORT"]]
    if f"RELAY_{name.upper()}_HTTP_PORT" in os.environ:
        ports.append(os.environ[f"RELAY_{name.upper()}_HTTP_PORT"])
    servers = [ThreadingHTTPServer(("127.0.0.1", int(port)), Handler) for port in ports]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"{name} ready on {ports}", flush=True)
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
