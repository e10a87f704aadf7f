"""Hostile timing and routing: reconnect delays, deadlines, proxies, redirects, threads, and the token in frames."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

import replicate_min._streaming
from replicate_min import (
    APITimeoutError,
    Client,
    Prediction,
    ReplicateError,
    ReplicateException,
    WaitTimeoutError,
)
from replicate_min.pagination import paginate
from replicate_min.testing import FakeReplicate
from tests.hostile.rawserver import Conn, RawServer, Request, Script, prediction, response, serve_each

RawFactory = Callable[[Script], RawServer]
NEVER = 3600.0  # a hostile server's stall: longer than the test's timeout, ended when the server stops


def _client(server: RawServer, **options: Any) -> Client:
    options.setdefault("api_token", "r8_token")
    options.setdefault("retry_backoff", 0.01)
    options.setdefault("timeout", 30)
    return Client(base_url=server.url, **options)


def _in_thread(call: Callable[[], Any]) -> Tuple[threading.Event, List[Any]]:
    done = threading.Event()
    outcome: List[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:
            outcome.append(exc)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done, outcome


# -- cause 9: a huge SSE retry: -------------------------------------------------------------------


def _reconnecting_stream_server(raw: RawFactory, first: bytes, later: bytes, reloaded: threading.Event) -> RawServer:
    """Prediction "s": the first stream sends ``first`` and ends without done; later streams send ``later``."""
    streams = Counter[str]()
    lock = threading.Lock()

    def script(conn: Conn) -> None:
        while True:
            request = conn.read_request()
            if request is None:
                return
            if request.path.startswith("/stream"):
                with lock:
                    streams["n"] += 1
                    data = first if streams["n"] == 1 else later
                head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
                conn.send(head + f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
                conn.wait_for_close(5)
                return
            urls = {"stream": f"http://127.0.0.1:{conn.server.port}/stream/s"}
            conn.send(response(200, prediction("s", "processing", urls=urls)))
            if streams["n"] >= 1:
                reloaded.set()

    return raw(script)


HUGE_RETRY = b"retry: 100000000000\n\nevent: output\nid: 1:0\ndata: a\n\n"
DONE = b"event: output\nid: 1:1\ndata: b\n\nevent: done\nid: 1:2\ndata: {}\n\n"


def test_huge_sse_retry_reconnects_within_the_documented_cap(raw: RawFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replicate_min._streaming, "MAX_RECONNECT_DELAY", 0.5)
    server = _reconnecting_stream_server(raw, HUGE_RETRY, DONE, threading.Event())
    p = _client(server).predictions.get("s")
    # Uncapped, the reconnect would wait three years: the test's timeout would fail it.
    assert [str(e) for e in p.stream() if e.event == "output"] == ["a", "b"]


def test_close_from_another_thread_cuts_a_reconnect_wait_short(raw: RawFactory) -> None:
    reloaded = threading.Event()
    server = _reconnecting_stream_server(raw, HUGE_RETRY, DONE, reloaded)
    p = _client(server).predictions.get("s")
    stream = p.stream()
    done, outcome = _in_thread(lambda: [str(e) for e in stream])
    assert reloaded.wait(5), "the stream never checked whether the prediction had finished"
    stream.close()
    done.wait()  # the reconnect wait is three years long: only close() can end it this side of the test's timeout
    assert not isinstance(outcome[0], BaseException) or isinstance(outcome[0], ReplicateException), outcome


# -- cause 10: deadlines ------------------------------------------------------------------------


def _slow_answer(seconds: float, answer: Callable[[Request], bytes], slow: Callable[[Request], bool]) -> Script:
    def script(conn: Conn) -> None:
        while True:
            request = conn.read_request()
            if request is None:
                return
            if slow(request) and conn.wait(seconds):
                return
            if not conn.send(answer(request)):
                return

    return script


def test_run_timeout_bounds_a_create_answered_after_12_seconds(raw: RawFactory) -> None:
    server = raw(_slow_answer(NEVER, lambda r: response(201, prediction("p")), lambda r: True))
    client = _client(server)
    with pytest.raises(APITimeoutError) as info:
        client.run("owner/name", {}, timeout=1)
    assert info.value.sent is True  # the create reached the server: a prediction may exist
    assert [r.method for r in server.requests] == ["POST"]


def test_wait_timeout_bounds_a_slow_poll(raw: RawFactory) -> None:
    server = raw(_slow_answer(NEVER, lambda r: response(200, prediction("w")), lambda r: True))
    client = _client(server, poll_interval=0.05)
    p = Prediction.from_json(prediction("w")).bind(client)
    with pytest.raises(WaitTimeoutError):
        p.wait(timeout=1)


def test_run_timeout_bounds_a_429_with_retry_after_60(raw: RawFactory) -> None:
    server = raw(serve_each(lambda r: response(429, {"detail": "slow down"}, {"Retry-After": "60"})))
    client = _client(server)  # three retries after 60 s each: only the deadline ends it inside the test timeout
    with pytest.raises(ReplicateException) as info:
        client.run("owner/name", {}, timeout=1)
    assert isinstance(info.value, (ReplicateError, APITimeoutError)), repr(info.value)


def _dribble(head: bytes, pace: float, total: float) -> Script:
    """Answers the first request with ``head`` one byte every ``pace`` seconds, for up to ``total`` seconds."""

    def script(conn: Conn) -> None:
        if conn.read_request() is None:
            return
        limit = time.monotonic() + total
        for byte in head:
            if time.monotonic() > limit or conn.wait(pace) or not conn.send(bytes([byte])):
                return

    return script


def test_run_timeout_bounds_a_create_whose_headers_dribble(raw: RawFactory) -> None:
    head = b"HTTP/1.1 201 Created\r\n" + b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"
    server = raw(_dribble(head, 0.2, NEVER))
    client = _client(server, timeout=5)
    # Each byte comes well inside the 5 s read timeout; the whole head takes 45 s, so only the
    # 1 s deadline can end the call with an APITimeoutError.
    with pytest.raises(APITimeoutError):
        client.run("owner/name", {}, timeout=1)


def _sent_then_dribbled(sent: bytes, dribbled: bytes) -> Script:
    """Answers the first request with ``sent`` at once, then ``dribbled`` a byte every 0.2 s."""

    def script(conn: Conn) -> None:
        if conn.read_request() is None or not conn.send(sent):
            return
        for byte in dribbled:
            if conn.wait(0.2) or not conn.send(bytes([byte])):
                return

    return script


@pytest.mark.parametrize(
    "sent",
    [
        b"HTTP/1.1 201 Created\r\nX-Slow: ",  # the deadline shuts the socket mid-headers
        b'HTTP/1.1 201 Created\r\nConnection: close\r\n\r\n{"id": "w"',  # ... mid close-delimited body
    ],
    ids=["headers", "close-delimited body"],
)
def test_an_answer_the_deadline_cuts_short_is_a_timeout_not_an_answer(raw: RawFactory, sent: bytes) -> None:
    # The end of data after the deadline's shutdown is not the server's end of the headers
    # or body: what was read is cut short, and the create may exist (sent=True).
    server = raw(_sent_then_dribbled(sent, b" " * 1000))
    client = _client(server, timeout=5)
    with pytest.raises(APITimeoutError) as info:
        client.run("owner/name", {}, timeout=1)
    assert info.value.sent
    p = Prediction.from_json(prediction("w")).bind(client)
    with pytest.raises(WaitTimeoutError):
        p.wait(timeout=1)


def test_wait_timeout_bounds_a_poll_whose_body_dribbles(raw: RawFactory) -> None:
    body = b'{"id": "w", "status": "processing"' + b" " * 200 + b"}"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)

    def script(conn: Conn) -> None:
        if conn.read_request() is None:
            return
        conn.send(head)
        for byte in body:
            if conn.wait(0.2) or not conn.send(bytes([byte])):
                return

    server = raw(script)
    client = _client(server, timeout=5, poll_interval=0.01)
    p = Prediction.from_json(prediction("w")).bind(client)
    # The body takes 47 s a byte at a time; only the 1 s deadline ends the wait with WaitTimeoutError.
    with pytest.raises(WaitTimeoutError):
        p.wait(timeout=1)


# -- cause 4: proxy credentials after a redirect -------------------------------------------------


def test_proxy_credentials_never_reach_the_origin_a_proxy_redirects_to(
    raw: RawFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    origin = raw(serve_each(lambda r: response(200, prediction("a"))))
    target = f"http://127.0.0.1:{origin.port}/v1/predictions/a"
    proxy = raw(serve_each(lambda r: response(302, b"", {"Location": target})))
    monkeypatch.setenv("HTTP_PROXY", f"http://user:pw@127.0.0.1:{proxy.port}")
    monkeypatch.setenv("http_proxy", f"http://user:pw@127.0.0.1:{proxy.port}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    # (a name, not loopback: a loopback destination is never proxied)
    client = Client(api_token="r8_token", base_url=f"http://origin.test:{proxy.port + 1}", timeout=5, allow_http=True)
    assert client.predictions.get("a").id == "a"
    assert len(proxy.requests) == 1 and proxy.requests[0].path.startswith("http://origin.test:")
    assert proxy.requests[0].headers.get("proxy-authorization", "").startswith("Basic ")  # the proxy was used
    assert len(origin.requests) == 1
    assert "proxy-authorization" not in origin.requests[0].headers
    assert "authorization" not in origin.requests[0].headers  # another origin than the base URL's


# -- held: redirects and pagination keep the token home; plain http refused ---------------------


def test_redirect_to_another_origin_drops_authorization(raw: RawFactory) -> None:
    other = raw(serve_each(lambda r: response(200, prediction("a"))))
    home = raw(
        serve_each(lambda r: response(302, b"", {"Location": f"http://localhost:{other.port}/v1/predictions/a"}))
    )
    assert _client(home).predictions.get("a").id == "a"
    assert home.requests[0].headers["authorization"] == "Bearer r8_token"
    assert len(other.requests) == 1 and "authorization" not in other.requests[0].headers


def test_pagination_next_on_another_host_gets_no_token(raw: RawFactory) -> None:
    other = raw(serve_each(lambda r: response(200, {"results": [prediction("b")], "next": None})))
    next_url = f"http://localhost:{other.port}/v1/predictions?cursor=2"
    home = raw(serve_each(lambda r: response(200, {"results": [prediction("a")], "next": next_url})))
    pages = list(paginate(_client(home).predictions.list))
    assert [p.id for page in pages for p in page] == ["a", "b"]
    assert home.requests[0].headers["authorization"] == "Bearer r8_token"
    assert len(other.requests) == 1 and "authorization" not in other.requests[0].headers


@pytest.mark.parametrize(
    "base_url", ["http://api.replicate.com", "http://10.0.0.1:8080", "http://example.com/v1", "http://127.0.0.1.nip.io"]
)
def test_plain_http_base_url_to_a_non_loopback_host_is_refused(base_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError):
        Client(api_token="r8_token", base_url=base_url)
    monkeypatch.setenv("REPLICATE_BASE_URL", base_url)
    monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_token")
    with pytest.raises(ValueError):
        Client().predictions.get("a")


def test_32_threads_of_creates_against_a_faulty_server_give_library_errors_and_no_duplicates() -> None:
    import random

    rng = random.Random(1234)
    with FakeReplicate(start_delay=0.02, step=0.01, keepalive_interval=0.2) as fake:
        kinds = ["drop", "drop_after", "status", "status", "truncated", "not_object"]
        for _ in range(40):
            kind = rng.choice(kinds)
            status = rng.choice([500, 502, 503, 429])
            headers = {"Retry-After": "0"} if status == 429 else None
            fake.fail_next(kind, status=status, headers=headers, method="POST")
        client = Client(api_token=fake.token, base_url=fake.base_url, retry_backoff=0.01, timeout=5, max_retries=3)
        barrier = threading.Barrier(32, timeout=10)
        results: Dict[int, Any] = {}

        def create(n: int) -> None:
            barrier.wait()
            try:
                results[n] = client.predictions.create(model="replicate-min/echo", input={"n": n})
            except BaseException as exc:
                results[n] = exc

        threads = [threading.Thread(target=create, args=(n,), daemon=True) for n in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not any(thread.is_alive() for thread in threads)
        raw_errors = {n: r for n, r in results.items() if isinstance(r, BaseException)}
        raw_errors = {n: r for n, r in raw_errors.items() if not isinstance(r, ReplicateException)}
        assert raw_errors == {}, raw_errors
        listing = Client(api_token=fake.token, base_url=fake.base_url, timeout=5)
        inputs = Counter((p.input or {}).get("n") for page in paginate(listing.predictions.list) for p in page)
        duplicates = {n: count for n, count in inputs.items() if count > 1}
        assert duplicates == {}, duplicates
        assert fake.creates <= 32
        ok = [r for r in results.values() if isinstance(r, Prediction)]
        assert len({p.id for p in ok}) == len(ok)


# -- cause 17: the token in frames' locals -------------------------------------------------------


FRAME_TOKEN = "r8_FRAMETOKEN0123456789"


def _holds_token(value: Any, depth: int = 0, seen: Optional[set] = None) -> bool:
    """True if ``value`` holds a copy of the token: a string, a header dict, a urllib Request...

    The client's own configuration (``Settings``, reached through a requester or client)
    must keep the token; references to it are not counted.
    """
    from replicate_min._requester import Settings

    seen = set() if seen is None else seen
    if id(value) in seen or depth > 4 or isinstance(value, Settings):
        return False
    seen.add(id(value))
    if isinstance(value, str):
        return FRAME_TOKEN in value
    if isinstance(value, (bytes, bytearray)):
        return FRAME_TOKEN.encode() in value
    if isinstance(value, dict):
        return any(_holds_token(k, depth + 1, seen) or _holds_token(v, depth + 1, seen) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_holds_token(v, depth + 1, seen) for v in value)
    attrs = getattr(value, "__dict__", None)
    if isinstance(attrs, dict) and not isinstance(value, type):
        return _holds_token(attrs, depth + 1, seen)
    return False


def _frames_holding_token(exc: BaseException) -> List[str]:
    found = []
    pending: List[Optional[BaseException]] = [exc]
    visited: set = set()
    while pending:
        error = pending.pop()
        if error is None or id(error) in visited:
            continue
        visited.add(id(error))
        pending += [error.__cause__, error.__context__]
        tb = error.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            for name, value in frame.f_locals.items():
                if _holds_token(value):
                    found.append(f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_code.co_name}:{name}")
            tb = tb.tb_next
    return sorted(set(found))


def test_the_token_is_not_kept_in_the_frames_of_an_error(raw: RawFactory) -> None:
    def script(conn: Conn) -> None:
        conn.read_request()  # then close without an answer: the request may have run

    server = raw(script)
    client = Client(api_token=FRAME_TOKEN, base_url=server.url, timeout=5, max_retries=0)
    with pytest.raises(ReplicateException) as info:
        client.predictions.create(version="v", input={})
    assert FRAME_TOKEN not in str(info.value)
    holders = _frames_holding_token(info.value)
    assert holders == [], f"frames holding the token: {holders}"


def test_a_stream_resumes_from_an_event_id_beyond_latin_1(raw: RawFactory) -> None:
    # G17: an id the server sent in UTF-8 goes back as those bytes, not a UnicodeEncodeError.
    first = "event: output\nid: café-1\ndata: a\n\n".encode()
    later = b"event: output\nid: 2\ndata: b\n\nevent: done\nid: 3\ndata: {}\n\n"
    server = _reconnecting_stream_server(raw, first, later, threading.Event())
    p = _client(server).predictions.get("s")
    assert [str(e) for e in p.stream() if e.event == "output"] == ["a", "b"]
    resumed = [r for r in server.requests if r.path.startswith("/stream")][1]
    assert "last-event-id: café-1".encode() in resumed.raw_head.lower()
