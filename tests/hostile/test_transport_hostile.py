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
