"""The transport against raw sockets: deadlines, stream close races, proxy credentials,
refused redirects, oversized bodies, idle expiry and the watchdog (from the outside review)."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace
from typing import Any, Callable, Dict, List

import pytest

import replicate_min._transport as transport
from replicate_min import Client, Prediction, ReplicateError, ResponseTooLargeError, WaitTimeoutError
from tests.hostile.rawserver import Conn, RawServer, prediction, response, serve_each

RawFactory = Callable[[Callable[[Conn], None]], RawServer]


def _client(server: RawServer, **options: Any) -> Client:
    return Client(api_token="r8_review", base_url=server.url, **options)


def _stream_of(client: Client, server: RawServer) -> Any:
    return Prediction(id="abc", status="processing", urls={"stream": server.url + "/stream"}).bind(client)


@pytest.mark.parametrize("connection_close", [False, True])
def test_the_deadline_holds_on_an_answer_that_closes_its_connection(raw: RawFactory, connection_close: bool) -> None:
    # http.client forgets conn.sock for a "Connection: close" answer: the watchdog must still break it.
    def script(conn: Conn) -> None:
        while conn.read_request() is not None:
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n"
            conn.send(head + (b"Connection: close\r\n" if connection_close else b"") + b"\r\n")
            for byte in b'{"id": "abc", "status": "processing"' + b" " * 450:  # a byte at a time
                if conn.wait(0.2) or not conn.send(bytes([byte])):
                    return

    server = raw(script)
    client = _client(server, max_retries=0)
    # The body takes 90 s a byte at a time: only the watchdog ends the wait inside the test's timeout.
    with pytest.raises(WaitTimeoutError):
        Prediction(id="abc", status="processing").bind(client).wait(timeout=1)


@pytest.mark.parametrize("framing", [b"Transfer-Encoding: chunked\r\n", b"Connection: close\r\n"])
def test_close_from_another_thread_ends_a_silent_stream_quietly(raw: RawFactory, framing: bytes) -> None:
    got_request = threading.Event()

    def script(conn: Conn) -> None:
        if conn.read_request() is None:
            return
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" + framing + b"\r\n")
        got_request.set()
        conn.wait_for_close()

    server = raw(script)
    client = _client(server)
    stream = _stream_of(client, server).stream(idle_timeout=30, max_reconnects=0)
    outcome: Dict[str, Any] = {}

    def reader() -> None:
        try:
            outcome["result"] = next(stream, "END")
        except BaseException as exc:  # the test asserts there is none
            outcome["result"] = exc

    thread = threading.Thread(target=reader)
    thread.start()
    assert got_request.wait(60)  # a safety net: the wait is for the reader's request
    stream.close()  # returns while the reader is still blocked: a close that waited for it would deadlock
    thread.join()
    assert outcome["result"] == "END"


def test_closing_a_stream_while_it_connects_stops_it_and_frees_the_slot(raw: RawFactory) -> None:
    accepted = threading.Event()

    def script(conn: Conn) -> None:
        conn.read_request()
        accepted.set()
        conn.wait_for_close()  # never answers

    server = raw(script)
    client = _client(server, read_timeout=20, max_concurrency=1)
    stream = _stream_of(client, server).stream(idle_timeout=20)
    outcome: List[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(next(stream, "END")))
    thread.start()
    assert accepted.wait(10)
    stream.close()
    thread.join(10)
    assert not thread.is_alive() and outcome == ["END"]
    assert len(server.requests) == 1  # no retry after the close
    # the one connection slot is free again: a request goes through at once
    again = raw(serve_each(lambda request: response(200, prediction("abc", "processing"))))
    assert _client(again).predictions.get("abc").id == "abc"


def test_proxy_credentials_of_one_proxy_never_reach_another(raw: RawFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Proxy A redirects to an https URL that goes through proxy B: A's credentials stay with A.
    second = raw(lambda conn: (conn.read_request(), conn.send(response(502, b""))))
    first = raw(
        serve_each(
            lambda request: response(302, b"", {"Location": "https://files.example.test/file", "Connection": "close"})
        )
    )
    monkeypatch.setenv("http_proxy", f"http://user:s3cret@127.0.0.1:{first.port}")
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{second.port}")
    monkeypatch.setenv("no_proxy", "")
    monkeypatch.delenv("NO_PROXY", raising=False)
    client = Client(api_token="r8_review", base_url="http://origin.example.test", allow_http=True, max_retries=0)
    with pytest.raises(Exception):  # noqa: B017  # whatever B answers; the test is what B saw
        client.download("http://origin.example.test/file")
    assert first.requests and "proxy-authorization" in first.requests[0].headers
    assert all("proxy-authorization" not in request.headers for request in second.requests)


@pytest.mark.parametrize("location", ["file:///etc/passwd", "http://[::1/x", "ftp://example.test/x"])
def test_a_redirect_urllib_refuses_is_an_error_and_keeps_no_slot(raw: RawFactory, location: str) -> None:
    server = raw(serve_each(lambda request: response(302, b"", {"Location": location})))
    client = _client(server, max_concurrency=1, connect_timeout=2)
    for _ in range(2):  # a leaked slot would make the second call wait for it and fail
        with pytest.raises(ReplicateError) as info:
            client.predictions.get("abc")
        assert info.value.status == 302
    assert len(server.requests) == 2  # not retried


def test_a_body_too_large_is_not_fetched_again(raw: RawFactory) -> None:
    server = raw(serve_each(lambda request: response(200, b"x" * 4096)))
    client = _client(server, max_response_size=1024)
    with pytest.raises(ResponseTooLargeError):
        client.predictions.get("abc")
    assert len(server.requests) == 1


def test_expired_idle_connections_are_closed_even_when_newer_ones_are_reused(
    raw: RawFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pool's clock is the test's: a burst's connections go idle at 0 s; at 4 s one of
    # them serves a request (and is idle again from then); at 6 s the others are past the
    # 5 s expiry. Reuse takes the newest, so only a sweep from the old end closes them.
    now = [0.0]
    monkeypatch.setattr(transport, "time", SimpleNamespace(monotonic=lambda: now[0], sleep=time.sleep, time=time.time))
    server = raw(serve_each(lambda request: response(200, prediction("abc", "processing"))))
    client = _client(server)

    async def burst() -> None:
        await asyncio.gather(*(client.predictions.async_get("abc") for _ in range(20)))

    asyncio.run(burst())
    pool = client.requester.transport._pool
    burst_size = sum(len(idle) for idle in pool._idle.values())
    assert burst_size > 1
    now[0] = 4.0
    client.predictions.get("abc")
    assert sum(len(idle) for idle in pool._idle.values()) == burst_size  # nothing expired yet
    now[0] = 6.0
    client.predictions.get("abc")
    assert sum(len(idle) for idle in pool._idle.values()) == 1  # the old ones were swept


def test_the_deadline_watchdog_forgets_calls_that_ended_in_time(raw: RawFactory) -> None:
    server = raw(serve_each(lambda request: response(200, prediction("abc", "processing"))))
    client = _client(server, poll_interval=0)
    with pytest.raises(WaitTimeoutError):
        Prediction(id="abc", status="processing").bind(client).wait(timeout=1)
    assert len(transport._watchdog()._due) < 2100  # compacted: not one entry per poll


def _interrupt(original: Callable[..., Any]) -> Callable[..., Any]:
    """``original``, but the first call raises ``KeyboardInterrupt`` before it does anything."""
    fired: List[bool] = []

    def call(*args: Any, **kwargs: Any) -> Any:
        if not fired:
            fired.append(True)
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    return call


def _after(original: Callable[..., Any]) -> Callable[..., Any]:
    """Like ``_Interrupt``, but the interrupt comes once ``original`` has done its work."""
    fired: List[bool] = []

    def call(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if not fired:
            fired.append(True)
            raise KeyboardInterrupt
        return result

    return call


@pytest.mark.parametrize(
    "point",
    ["slot taken in acquire", "_is_usable", "_Lease.release", "put_back", "_PooledResponse.close", "after put_back"],
)
def test_an_interrupt_anywhere_in_the_pool_never_keeps_a_slot(
    raw: RawFactory, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    # G6: with max_concurrency=1 a leaked slot makes every later request wait for it and fail.
    server = raw(serve_each(lambda request: response(200, prediction("abc", "processing"))))
    client = _client(server, max_concurrency=1, connect_timeout=2, max_retries=0)
    assert client.predictions.get("abc").id == "abc"  # one idle connection, for _is_usable
    if point == "slot taken in acquire":
        monkeypatch.setattr(
            transport, "_Slot", type("_Slot", (transport._Slot,), {"__init__": _after(transport._Slot.__init__)})
        )
    elif point == "_is_usable":
        monkeypatch.setattr(transport, "_is_usable", _interrupt(transport._is_usable))
    elif point == "_Lease.release":
        monkeypatch.setattr(transport._Lease, "release", _interrupt(transport._Lease.release))
    elif point == "put_back":
        monkeypatch.setattr(transport._Pool, "put_back", _interrupt(transport._Pool.put_back))
    elif point == "after put_back":
        monkeypatch.setattr(transport._Pool, "put_back", _after(transport._Pool.put_back))
    else:
        monkeypatch.setattr(
            transport.http.client.HTTPResponse, "close", _interrupt(transport.http.client.HTTPResponse.close)
        )
    with pytest.raises(KeyboardInterrupt):
        client.predictions.get("abc")
    for _ in range(3):
        assert client.predictions.get("abc").id == "abc"
    pool = client.requester.transport._pool
    assert pool._in_use == {}  # every slot given back


def test_an_interrupt_while_waiting_for_a_slot_keeps_nothing(raw: RawFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # G6: Ctrl-C in a thread blocked on the pool's condition (all slots busy).
    server = raw(serve_each(lambda request: response(200, prediction("abc", "processing"))))
    client = _client(server, max_concurrency=1, connect_timeout=5, max_retries=0)
    held = client.requester.transport.open_stream(
        server.url + "/v1/predictions/abc", {}, retry=transport.RetryPolicy(max_retries=0), read_timeout=5
    )

    class Interrupted(threading.Condition):
        def wait(self, timeout: Any = None) -> bool:
            raise KeyboardInterrupt

    monkeypatch.setattr(threading, "Condition", Interrupted)
    with pytest.raises(KeyboardInterrupt):
        client.predictions.get("abc")
    held.close()
    monkeypatch.undo()
    pool = client.requester.transport._pool
    pool._changed = None  # a real condition for the next waiter, if any
    assert client.predictions.get("abc").id == "abc"
    assert pool._in_use == {} and pool._waiting == 0


def test_pool_state_per_origin_is_freed_with_its_last_connection(raw: RawFactory) -> None:
    # G18: an origin with no connection and nobody waiting keeps no state in the pool.
    servers = [
        raw(serve_each(lambda request: response(200, prediction("abc", "processing"), {"Connection": "close"})))
        for _ in range(4)
    ]
    client = Client(api_token="r8_review", base_url=servers[0].url, max_retries=0)
    for server in servers:
        assert client.download(server.url + "/file")
    pool = client.requester.transport._pool
    assert pool._in_use == {} and pool._idle == {}
    pool = transport._Pool(2)
    for number in range(5000):  # many origins over a long life: nothing kept for any of them
        slot, conn = pool.acquire((True, f"h{number}.replicate.delivery", None), None)
        assert conn is None
        slot.release()
        slot.release()  # a second release gives back nothing
    assert pool._in_use == {} and pool._idle == {}


# -- issue 19: proxies, TLS leftovers, debug output, declared sizes ---------------------------------

#: G1: a host that ends in .replicate.delivery as written, and holds a whole CONNECT once urllib decodes it.
SPLIT_HOST = "evil.test%3A443%20HTTP%2F1.1%0D%0AHost%3A%20evil.test%0D%0A%0D%0AX%5D.replicate.delivery"


@pytest.mark.parametrize("host", [SPLIT_HOST, "evil%00.replicate.delivery", "evil%2Etest.replicate.delivery"])
def test_a_server_url_whose_host_decodes_to_more_never_reaches_a_proxy(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    from replicate_min import ReplicateException
    from replicate_min._files import FileOutput
    from tests.proxy import Proxy

    with Proxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url.replace("http://", "http://user:pr0xy-secret@"))
        monkeypatch.setenv("NO_PROXY", "")
        client = Client(api_token="r8_review", base_url="https://api.example.test", max_retries=0)
        url = f"https://{host}/o.png"
        with pytest.raises(ValueError):  # the caller's argument
            client.download(url)
        with pytest.raises(ReplicateException) as info:  # the server's URL: a library error, not a raw TypeError
            FileOutput(url, client.requester).read()
        assert not getattr(info.value, "sent", False)
        assert proxy.requests == [] and proxy.connections == 0  # no CONNECT, split or not, no credentials


def test_a_redirect_to_a_host_that_decodes_to_more_is_not_followed(
    raw: RawFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from replicate_min import ReplicateException
    from tests.proxy import Proxy

    server = raw(serve_each(lambda request: response(302, b"", {"Location": f"https://{SPLIT_HOST}/o.png"})))
    with Proxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url.replace("http://", "http://user:pr0xy-secret@"))
        monkeypatch.setenv("NO_PROXY", "")
        with pytest.raises(ReplicateException) as info:
            _client(server, max_retries=0).download(server.url + "/file")
        assert not getattr(info.value, "sent", False)
        assert proxy.requests == [] and proxy.connections == 0
    assert len(server.requests) == 1


def test_a_bad_host_without_a_proxy_is_reported_as_not_sent() -> None:
    # Straight from the transport, below the client's URL rule: nothing is sent, nothing connects.
    from replicate_min import APIConnectionError
    from replicate_min._retry import RetryPolicy

    t = transport.Transport(connect_timeout=5)
    for host in ("evil%0D%0A.test", "evil%00.test", "evil%20x.test"):
        with pytest.raises(APIConnectionError) as info:
            t.send("GET", f"http://{host}/x", {}, idempotent=True, retry=RetryPolicy(0), read_timeout=5, max_body=10)
        assert info.value.sent is False
    t.close()


def _tls_server(script: Callable[[Any], None]) -> Any:
    """A TLS server on loopback (a trustme CA): ``script(ssl_socket)`` per connection; returns (url, CA, stop)."""
    import socket
    import ssl

    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                sock, _ = listener.accept()
            except OSError:
                continue
            sock.settimeout(20)
            try:
                with context.wrap_socket(sock, server_side=True) as tls:
                    script(tls)
            except OSError:
                pass

    threading.Thread(target=serve, daemon=True).start()
    return f"https://localhost:{listener.getsockname()[1]}", ca, lambda: (stop.set(), listener.close())


def _read_head(tls: Any) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = tls.recv(65536)
        if not chunk:
            return b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(rest) < length:
        rest += tls.recv(65536)
    return head


def test_tls_bytes_left_after_an_answer_never_answer_the_next_request() -> None:
    # G4: 8192 bytes of answer and an unrequested answer in one write: the rest waits
    # decrypted in the SSLSocket, where a poll of the fd cannot see it.
    import json
    import ssl

    forged = response(201, prediction("FORGED"))

    def script(tls: Any) -> None:
        while True:
            head = _read_head(tls)
            if not head:
                return
            if head.startswith(b"GET"):
                body = json.dumps(prediction("A")).encode()
                # padded with spaces (still JSON) so that head and body are exactly 8192 bytes
                answer = next(a for n in range(8192) for a in [response(200, body.ljust(n))] if len(a) == 8192)
                assert len(answer) == 8192
                tls.sendall(answer + forged)
            else:
                tls.sendall(response(201, prediction("REAL")))

    url, ca, stop = _tls_server(script)
    try:
        context = ssl.create_default_context()
        ca.configure_trust(context)
        client = Client(api_token="r8_review", base_url=url, ssl_context=context, max_retries=0)
        for _ in range(3):
            assert client.predictions.get("A").id == "A"
            assert client.predictions.create(version="v" * 64, input={}).id == "REAL"
        client.close()
    finally:
        stop()


def test_http_client_debug_output_never_shows_the_token(
    raw: RawFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # G15: http.client's global debuglevel prints every header sent, Authorization included.
    import http.client

    monkeypatch.setattr(http.client.HTTPConnection, "debuglevel", 1)
    server = raw(serve_each(lambda request: response(200, prediction("abc", "processing"))))
    _client(server).predictions.get("abc")
    assert server.requests[0].headers["authorization"] == "Bearer r8_review"
    out = capsys.readouterr()
    assert "r8_review" not in out.out + out.err


def test_a_declared_length_over_the_limit_is_refused_before_a_byte_is_read(raw: RawFactory) -> None:
    # G20: the Content-Length says 300 MB; the server sends 5 bytes and waits. Refused from the header.
    sent_head = threading.Event()

    def script(conn: Conn) -> None:
        if conn.read_request() is None:
            return
        conn.send(b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 300000000\r\n\r\n{"id"')
        sent_head.set()
        conn.wait_for_close()

    server = raw(script)
    client = _client(server, max_response_size=1 << 20, max_retries=0, timeout=60)
    with pytest.raises(ResponseTooLargeError):
        client.predictions.get("abc")
    assert sent_head.wait(10)  # the server thread may set it just after the client has the bytes


# -- attacks on the fixes above (new classes) ------------------------------------------------------


def test_idle_connections_of_origins_never_contacted_again_expire(
    raw: RawFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each download host leaves one idle keep-alive connection. If only a later request to
    # the same origin swept it, a long life over many hosts would keep a socket per host open.
    now = [0.0]
    monkeypatch.setattr(transport, "time", SimpleNamespace(monotonic=lambda: now[0], sleep=time.sleep, time=time.time))
    servers = [raw(serve_each(lambda request: response(200, prediction("abc", "processing")))) for _ in range(8)]
    client = _client(servers[0])
    for server in servers[1:]:
        assert client.download(server.url + "/file")
    pool = client.requester.transport._pool
    assert len(pool._idle) == 7
    now[0] = 6.0  # past the keep-alive expiry of every one of them
    client.predictions.get("abc")
    assert list(pool._idle) == [(False, f"127.0.0.1:{servers[0].port}", None)]


def test_a_loopback_name_in_another_spelling_is_never_proxied(raw: RawFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # G2 by another spelling: "LOCALHOST", "[::1]"-style and 127.x addresses are all loopback.
    from tests.proxy import Proxy

    server = raw(serve_each(lambda request: response(200, prediction("abc", "processing"))))
    with Proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "")
        for host in ("LOCALHOST", "LocalHost", "127.0.0.1"):
            client = Client(api_token="r8_review", base_url=f"http://{host}:{server.port}", max_retries=0)
            assert client.predictions.get("abc").id == "abc"
        assert proxy.requests == [] and proxy.connections == 0
    assert all(request.headers["authorization"] == "Bearer r8_review" for request in server.requests)


@pytest.mark.parametrize(
    "location",
    [
        "https://evil.test:443%0D%0AX:1/o.png",  # the port, not the host, holds the split
        "https://[::1%25eth0%0D%0A]/o.png",  # an IPv6 zone with a CR LF in it
        "https://evil.test%09.replicate.delivery/o.png",  # a tab, which urlsplit would strip
    ],
)
def test_a_redirect_whose_authority_decodes_to_more_never_reaches_a_proxy(
    raw: RawFactory, monkeypatch: pytest.MonkeyPatch, location: str
) -> None:
    from replicate_min import ReplicateException
    from tests.proxy import Proxy

    server = raw(serve_each(lambda request: response(302, b"", {"Location": location})))
    with Proxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url.replace("http://", "http://user:pr0xy-secret@"))
        monkeypatch.setenv("NO_PROXY", "")
        with pytest.raises(ReplicateException) as info:
            _client(server, max_retries=0).download(server.url + "/file")
        assert not getattr(info.value, "sent", False)
        assert proxy.requests == [] and proxy.connections == 0
