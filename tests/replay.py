"""Replays a recorded cassette over loopback HTTP, so the client parses real API bodies."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CASSETTES = Path(__file__).parent / "cassettes"
_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "content-encoding", "keep-alive"}


class Replay:
    """Serves each recorded response once, to the first request with the same method and path."""

    def __init__(self, name: str) -> None:
        data = json.loads((CASSETTES / name).read_text())
        self.interactions: list[dict[str, Any]] = data["interactions"]
        self.used = [False] * len(self.interactions)
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self._lock = threading.Lock()
        replay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                replay.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                response = replay.take(self.command, urlsplit(self.path).path)
                body = response["body"].encode() if response else b'{"detail":"not in the cassette"}'
                self.send_response(response["status"] if response else 599)
                for name, value in (response or {}).get("headers", {}).items():
                    if name not in _HOP_BY_HOP:
                        for item in value if isinstance(value, list) else [value]:
                            self.send_header(name, item)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # a short poll: shutdown() waits up to one poll (0.5 s by default) at the end of every test
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        host, port = self.server.server_address[:2]
        self.base_url = f"http://{host}:{port}"

    def take(self, method: str, path: str) -> dict[str, Any] | None:
        with self._lock:
            for index, interaction in enumerate(self.interactions):
                request = interaction["request"]
                if not self.used[index] and request["method"] == method and urlsplit(request["uri"]).path == path:
                    self.used[index] = True
                    return interaction["response"]  # type: ignore[no-any-return]
        return None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Replay:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
