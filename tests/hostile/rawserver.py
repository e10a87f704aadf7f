"""A raw-socket HTTP server for hostile tests: each connection runs a script that writes any bytes.

The server binds 127.0.0.1 on port 0, accepts in a thread, and runs ``script(conn)`` for
each accepted connection on its own thread. ``conn.read_request()`` reads one request
(head up to the blank line, then a ``Content-Length`` body) and records it on the
server; ``conn.send(data)`` writes anything. ``close()`` closes the listening socket and
every connection, and joins the threads with a bound. Loopback only.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional

JOIN_TIMEOUT = 5.0
SOCKET_TIMEOUT = 20.0


@dataclass
class Request:
    method: str
    path: str
    headers: Dict[str, str]  # lower-case names
    body: bytes
    raw_head: bytes
    connection: int  # the number of the connection it came on (1 for the first accepted)


@dataclass
class Conn:
    sock: socket.socket
    server: RawServer
    number: int
    _buffer: bytes = b""
    requests: List[Request] = field(default_factory=list)

    def _recv(self) -> bytes:
        try:
            return self.sock.recv(65536)
        except OSError:
            return b""

    def read_request(self) -> Optional[Request]:
        """One request, recorded on the server; None if the client closed first."""
        while b"\r\n\r\n" not in self._buffer:
            data = self._recv()
            if not data:
                return None
            self._buffer += data
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path = [*lines[0].split(" "), "", ""][:2]
        headers: Dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        while len(rest) < length:
            data = self._recv()
            if not data:
                break
            rest += data
        body, self._buffer = rest[:length], rest[length:]
        request = Request(method, path, headers, body, head, self.number)
        self.requests.append(request)
        with self.server.lock:
            self.server.requests.append(request)
        return request

    def send(self, data: bytes) -> bool:
        """Writes ``data``; False if the client is gone."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def send_all(self, chunks: Iterable[bytes]) -> bool:
        """Writes chunks lazily from an iterable (a generator keeps memory flat); stops if the client goes."""
        for chunk in chunks:
            if self.server.stopping.is_set() or not self.send(chunk):
                return False
        return True

    def wait(self, seconds: float) -> bool:
        """Waits up to ``seconds`` or until the server stops; True if it is stopping."""
        return self.server.stopping.wait(seconds)

    def wait_for_close(self, seconds: float = SOCKET_TIMEOUT) -> None:
        """Waits until the client closes the connection (or the server stops)."""
        self.sock.settimeout(0.2)
        limit = seconds / 0.2
        while limit > 0 and not self.server.stopping.is_set():
            limit -= 1
            try:
                if not self.sock.recv(65536):
                    return
            except socket.timeout:
                continue
            except OSError:
                return


Script = Callable[[Conn], None]


class RawServer:
    def __init__(self, script: Script, host: str = "127.0.0.1") -> None:
        self.script = script
        self.requests: List[Request] = []
        self.connections = 0
        self.errors: List[BaseException] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._socks: List[socket.socket] = []
        self._threads: List[threading.Thread] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(64)
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._acceptor = threading.Thread(target=self._accept, name="rawserver-accept", daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.settimeout(SOCKET_TIMEOUT)
            with self.lock:
                if self.stopping.is_set():
                    sock.close()
                    return
                self.connections += 1
                conn = Conn(sock, self, self.connections)
                self._socks.append(sock)
                thread = threading.Thread(target=self._serve, args=(conn,), name="rawserver-conn", daemon=True)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: Conn) -> None:
        try:
            self.script(conn)
        except BaseException as exc:
            if not self.stopping.is_set():
                self.errors.append(exc)
        finally:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.sock.close()

    def close(self) -> None:
        self.stopping.set()
        try:  # wakes the acceptor at once (closing alone waits out its 0.1 s accept timeout)
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        self._acceptor.join(JOIN_TIMEOUT)
        with self.lock:
            socks, threads = list(self._socks), list(self._threads)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for thread in threads:
            thread.join(JOIN_TIMEOUT)

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def response(
    status: int,
    body: Any = b"",
    headers: Optional[Dict[str, str]] = None,
    *,
    reason: str = "X",
    content_type: str = "application/json",
) -> bytes:
    """A complete response with a Content-Length; a non-bytes body is sent as JSON."""
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}"]
    if body or status >= 300:
        lines.append(f"Content-Type: {content_type}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def prediction(id: str, status: str = "starting", **fields: Any) -> Dict[str, Any]:
    """A prediction body as the API sends it."""
    return {"id": id, "status": status, "input": {}, "output": None, "urls": {}, **fields}


def serve_each(answer: Callable[[Request], Optional[bytes]]) -> Script:
    """A keep-alive script: for each request, send ``answer(request)`` (None closes the connection)."""

    def script(conn: Conn) -> None:
        while True:
            request = conn.read_request()
            if request is None:
                return
            data = answer(request)
            if data is None or not conn.send(data):
                return

    return script
