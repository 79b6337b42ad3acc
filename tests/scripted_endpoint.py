"""A real HTTP server that answers ``POST …/chat/completions`` from a Python function, for tests
of clients and judges whose behaviour depends on what an endpoint says (errors, retries,
verdicts). The model behind ``rung serve-model`` is tested with the real server instead.

    with scripted_endpoint(lambda body: (200, chat_reply("ok"))) as base_url: ...
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# body of a request (plus "path" and "auth") -> (status, JSON answer)
Script = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


def chat_reply(content: str) -> dict[str, Any]:
    """An OpenAI chat completion answer holding ``content``."""
    return {"choices": [{"message": {"role": "assistant", "content": content}}]}


@contextmanager
def scripted_endpoint(script: Script) -> Iterator[str]:
    """Serve ``script`` on a free loopback port; yields the ``…/v1`` base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            body |= {"path": self.path, "auth": self.headers.get("Authorization")}
            status, payload = script(body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()
