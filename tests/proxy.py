"""A small forward proxy on loopback: absolute-URI requests and CONNECT tunnels, with counters."""

from __future__ import annotations

import http.client
import select
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

#: The name the proxy resolves to loopback: the client never proxies a loopback destination,
#: so a test reaches a loopback server through the proxy by this name.
ALIAS = "fake.test"


def _resolve(host: str) -> str:
    return "127.0.0.1" if host == ALIAS else host


def aliased(url: str) -> str:
    """``url`` with its loopback host replaced by ``ALIAS``."""
    return url.replace("127.0.0.1", ALIAS).replace("localhost", ALIAS)


class Proxy:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, target, headers)
        self.connections = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                proxy.connections += 1

            def _forward(self) -> None:
                proxy.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                target = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                upstream = http.client.HTTPConnection(_resolve(target.hostname or ""), target.port or 80, timeout=30)
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("proxy-connection", "proxy-authorization")
                }
                upstream.request(
                    self.command, target.path + (f"?{target.query}" if target.query else ""), body, headers
                )
                response = upstream.getresponse()
                data = response.read()
                self.send_response(response.status, response.reason)
                for name, value in response.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            do_GET = do_POST = _forward

            def do_CONNECT(self) -> None:
                proxy.requests.append(("CONNECT", self.path, {k.lower(): v for k, v in self.headers.items()}))
                host, _, port = self.path.rpartition(":")
                upstream = socket.create_connection((_resolve(host), int(port)))
                self.send_response(200, "Connection established")
                self.end_headers()
                self.close_connection = True
                sockets = [self.connection, upstream]
                try:
                    while True:
                        readable, _, _ = select.select(sockets, [], [], 30)
                        if not readable:
                            return
                        for sock in readable:
                            data = sock.recv(65536)
                            if not data:
                                return
                            (upstream if sock is self.connection else self.connection).sendall(data)
                finally:
                    upstream.close()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
