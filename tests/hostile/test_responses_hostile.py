"""Hostile answers: interim responses, broken framing, deep JSON, bad URLs and numbers, huge bodies."""

from __future__ import annotations

import copy
import logging
import sys
import threading
import time
import tracemalloc
from typing import Any, Callable, Dict, Iterator

import pytest

import replicate_min._transport
from replicate_min import (
    APIConnectionError,
    Client,
    Prediction,
    ReplicateError,
    ReplicateException,
    ResponseTooLargeError,
    StreamError,
    ValidationError,
)
from replicate_min.pagination import paginate
from tests.hostile.rawserver import Conn, RawServer, Request, Script, prediction, response, serve_each

RawFactory = Callable[[Script], RawServer]
DEEP = b"[" * 100000 + b"]" * 100000
DEEP_SMALL = b"[" * 30000 + b"]" * 30000  # under 64 KiB, where Retry-After bodies are read


def _client(server: RawServer, **options: Any) -> Client:
    options.setdefault("api_token", "r8_token")
    options.setdefault("retry_backoff", 0.01)
    options.setdefault("timeout", 5)
    return Client(base_url=server.url, **options)


def _get_named(request: Request) -> bytes:
    return response(200, prediction(request.path.rsplit("/", 1)[-1]))


# -- cause 2: interim 1xx answers ---------------------------------------------------------------


@pytest.mark.parametrize("interim", [b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", b""])
def test_interim_103_is_skipped_and_keep_alive_stays_in_step(raw: RawFactory, interim: bytes) -> None:
    def answer(request: Request) -> bytes:
        return interim + b"HTTP/1.1 102 Processing\r\n\r\n" + interim + _get_named(request)

    server = raw(serve_each(answer))
    client = _client(server)
    assert client.predictions.get("a").id == "a"
    assert client.predictions.get("b").id == "b"
    assert client.predictions.get("c").id == "c"
    assert server.connections == 1  # one keep-alive connection answered all three in order


# -- cause 3: malformed chunk sizes, leftover bytes and the id check ----------------------------


SMUGGLED = response(200, prediction("b", "succeeded", output="SMUGGLED"))


@pytest.mark.parametrize(
    "size_line",
    [b"ZZ", b"-1", b"10000000000000000", b"1" * 40, b"0x10", b""],
    ids=["ZZ", "negative", "above-2**63", "40-digits", "0x-prefix", "empty"],
)
def test_malformed_chunk_size_discards_the_connection(raw: RawFactory, size_line: bytes) -> None:
    def script(conn: Conn) -> None:
        if conn.number == 1:
            if conn.read_request() is None:
                return
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            conn.send(head + size_line + b"\r\n" + SMUGGLED)
            conn.wait_for_close()
            return
        serve_each(lambda r: response(200, prediction(r.path.rsplit("/", 1)[-1], "starting", output="REAL")))(conn)

    server = raw(script)
    client = _client(server, max_retries=0)
    with pytest.raises(ReplicateException) as info:
        client.predictions.get("a")
    assert isinstance(info.value, APIConnectionError), repr(info.value)
    b = client.predictions.get("b")
    assert b.id == "b" and b.output == "REAL"
    assert server.connections == 2
    assert [r.connection for r in server.requests] == [1, 2]


def _framed(headers: bytes) -> bytes:
    """An answer for "a" with these framing headers, then a smuggled answer for "b" in its body."""
    body = b'{"id": "a", "status": "starting"}'
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + headers + b"\r\n" + body + SMUGGLED


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Length: 33\r\nContent-Length: %d\r\n" % (33 + len(SMUGGLED)),
        b"Content-Length: 33, %d\r\n" % (33 + len(SMUGGLED)),
        b"Content-Length: +33\r\n",
        b"Content-Length: 3_3\r\n",
        b"Transfer-Encoding: gzip\r\nContent-Length: 33\r\n",
        b"Transfer-Encoding: chunked, gzip\r\n",
    ],
    ids=["two-lengths", "length-list", "plus-sign", "underscore", "gzip-with-length", "chunked-not-last"],
)
def test_contradictory_or_malformed_framing_is_refused_and_its_connection_dropped(
    raw: RawFactory, headers: bytes
) -> None:
    # RFC 9112 6.3: such framing is unrecoverable. http.client alone takes the first length
    # (int() reads "+33" and "3_3"), so the bytes after it would answer the next request.
    def script(conn: Conn) -> None:
        if conn.number == 1:
            if conn.read_request() is not None:
                conn.send(_framed(headers))
                conn.wait_for_close()
            return
        serve_each(lambda r: response(200, prediction(r.path.rsplit("/", 1)[-1], output="REAL")))(conn)

    server = raw(script)
    client = _client(server, max_retries=0)
    with pytest.raises(APIConnectionError, match="not valid HTTP"):
        client.predictions.get("a")
    assert client.predictions.get("b").output == "REAL"
    assert [r.connection for r in server.requests] == [1, 2]


def test_a_chunked_answer_that_also_has_a_length_is_read_chunked_and_its_connection_not_reused(
    raw: RawFactory,
) -> None:
    body = b'{"id": "a", "status": "starting"}'
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    answer = head + b"Content-Length: 5\r\n\r\n" + chunked
    server = raw(serve_each(lambda r: answer if r.path.endswith("/a") else response(200, prediction("b"))))
    client = _client(server, max_retries=0)
    assert client.predictions.get("a").id == "a"
    assert client.predictions.get("b").id == "b"
    assert [r.connection for r in server.requests] == [1, 2]


def test_malformed_chunk_size_on_an_idempotent_get_retries_on_a_new_connection(raw: RawFactory) -> None:
    def script(conn: Conn) -> None:
        if conn.number == 1:
            if conn.read_request() is None:
                return
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            conn.send(head + b"ZZ\r\n" + SMUGGLED)
            conn.wait_for_close()
            return
        serve_each(lambda r: response(200, prediction(r.path.rsplit("/", 1)[-1], output="REAL")))(conn)

    server = raw(script)
    client = _client(server)
    try:
        a = client.predictions.get("a")
        assert a.id == "a" and a.output == "REAL"
    except ReplicateException:
        pass
    b = client.predictions.get("b")
    assert b.output == "REAL"
    assert all(r.connection != 1 or r.path.endswith("/a") for r in server.requests)


def test_get_checks_the_answer_is_the_prediction_asked_for(raw: RawFactory) -> None:
    server = raw(serve_each(lambda r: response(200, prediction("b"))))
    with pytest.raises(ValidationError) as info:
        _client(server).predictions.get("a")
    assert info.value.field == "id"


def test_reload_checks_the_answer_is_the_prediction_asked_for(raw: RawFactory) -> None:
    server = raw(serve_each(lambda r: response(200, prediction("b"))))
    p = Prediction.from_json(prediction("a")).bind(_client(server))
    with pytest.raises(ValidationError):
        p.reload()
    assert p.id == "a"


def test_extra_bytes_after_a_complete_response_never_answer_the_next_request(raw: RawFactory) -> None:
    def script(conn: Conn) -> None:
        while True:
            request = conn.read_request()
            if request is None:
                return
            name = request.path.rsplit("/", 1)[-1]
            extra = SMUGGLED if conn.number == 1 else b""
            conn.send(response(200, prediction(name, output="REAL")) + extra)

    server = raw(script)
    client = _client(server)
    assert client.predictions.get("a").output == "REAL"
    b = client.predictions.get("b")
    assert b.output == "REAL"


# -- cause 6: deeply nested JSON -----------------------------------------------------------------


def test_deep_json_success_body_is_a_validation_error(raw: RawFactory) -> None:
    server = raw(serve_each(lambda r: response(200, DEEP)))
    with pytest.raises(ValidationError):
        _client(server).predictions.get("a")


@pytest.mark.parametrize("status", [404, 429, 500])
@pytest.mark.parametrize("body", [DEEP, DEEP_SMALL], ids=["200KB", "60KB"])
def test_deep_json_error_body_is_a_replicate_error_with_the_excerpt(raw: RawFactory, status: int, body: bytes) -> None:
    server = raw(serve_each(lambda r: response(status, body)))
    with pytest.raises(ReplicateError) as info:
        _client(server, max_retries=1).predictions.get("a")
    assert info.value.status == status
    assert info.value.body.startswith("[[[")


def test_deep_json_in_an_sse_event_is_a_stream_error() -> None:
    from replicate_min._sse import ServerSentEvent

    event = ServerSentEvent("output", DEEP.decode())
    with pytest.raises(StreamError):
        event.json()


def _stream_server(raw: RawFactory, body: Callable[[int], bytes], status: str = "processing") -> RawServer:
    """A server whose prediction "s" has a stream URL; the stream's body is ``body(n)`` on the nth stream."""
    count = {"streams": 0}
    lock = threading.Lock()

    def script(conn: Conn) -> None:
        while True:
            request = conn.read_request()
            if request is None:
                return
            if request.path.startswith("/stream"):
                with lock:
                    count["streams"] += 1
                    n = count["streams"]
                data = body(n)
                head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
                conn.send(head + f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
                conn.wait_for_close(5)
                return
            urls = {"stream": f"http://127.0.0.1:{conn.server.port}/stream/s", "get": "x"}
            conn.send(response(200, prediction("s", status, urls=urls)))

    return raw(script)


def test_deep_json_in_a_streamed_error_event_is_a_stream_error(raw: RawFactory) -> None:
    server = _stream_server(raw, lambda n: b"event: error\ndata: " + DEEP + b"\n\n")
    client = _client(server)
    with pytest.raises(StreamError):
        list(client.predictions.get("s").stream(max_reconnects=0))


def test_deep_json_in_a_done_event_is_ignored_or_a_stream_error(raw: RawFactory) -> None:
    server = _stream_server(raw, lambda n: b'event: done\ndata: {"reason": ' + DEEP_SMALL + b"}\n\n")
    client = _client(server)
    try:
        events = list(client.predictions.get("s").stream(max_reconnects=0))
    except StreamError:
        return
    assert [e.event == "done" for e in events] == [True]


# -- cause 7: malformed URLs from the server -----------------------------------------------------


@pytest.mark.parametrize("url", ["ftp://x/y", "not-a-url", "http://x:99999/", "http://[::1", "http://", "javascript:x"])
def test_malformed_stream_url_is_a_validation_error_naming_the_field(raw: RawFactory, url: str) -> None:
    server = raw(serve_each(lambda r: response(200, prediction("a", urls={"stream": url}))))
    p = _client(server).predictions.get("a")
    with pytest.raises(ValidationError) as info:
        with p.stream() as events:
            next(iter(events))
    assert info.value.field is not None and "stream" in info.value.field


@pytest.mark.parametrize("url", ["ftp://x/", "not-a-url", "http://x:99999/", "http://[::1"])
def test_malformed_page_next_is_a_validation_error_naming_the_field(raw: RawFactory, url: str) -> None:
    def answer(request: Request) -> bytes:
        return response(200, {"results": [prediction("a")], "next": url, "previous": None})

    server = raw(serve_each(answer))
    client = _client(server)
    with pytest.raises(ValidationError) as info:
        for _ in paginate(client.predictions.list):
            pass
    assert info.value.field == "next"
    assert len(server.requests) == 1  # nothing was fetched from the bad URL


# -- cause 8: hostile numbers --------------------------------------------------------------------


class _RecordingTime:
    """The transport's ``time`` module with ``sleep`` recorded, not slept."""

    def __init__(self, slept: list) -> None:
        self._slept = slept

    def sleep(self, seconds: float) -> None:
        self._slept.append(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.mark.parametrize(
    "retry_after",
    [
        "Wed, 21 Oct 99999999999999 07:28:00 GMT",
        "Wed, 21 Oct 0000 07:28:00 GMT",
        "nan",
        "Wed, 32 Foo 2020 99:99:99 GMT",
    ],
    ids=["year-99999999999999", "year-0", "nan", "garbage-date"],
)
def test_hostile_retry_after_date_is_ignored_and_never_raw(
    raw: RawFactory, retry_after: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}

    def answer(request: Request) -> bytes:
        calls["n"] += 1
        if calls["n"] == 1:
            return response(429, {"detail": "slow down"}, {"Retry-After": retry_after})
        return _get_named(request)

    server = raw(serve_each(answer))
    slept: list = []
    monkeypatch.setattr(replicate_min._transport, "time", _RecordingTime(slept))
    try:
        result: object = _client(server, max_retries=1).predictions.get("a")
    except ReplicateException as exc:
        result = exc
    assert isinstance(result, (Prediction, ReplicateException)), repr(result)
    # "ignored" means the ordinary backoff (10 ms here); a date centuries away must not be honoured.
    assert all(s <= 0.01 for s in slept), slept


@pytest.mark.parametrize(
    "retry_after",
    ["9" * 5000, "9" * 401, "-" + "9" * 400, "1e400", "-1e400", "99999999999999999999"],
    ids=["5000-digits", "401-digits", "negative-400-digits", "1e400", "-1e400", "20-digits"],
)
def test_hostile_retry_after_number_is_capped_or_ignored_and_never_raw(retry_after: str) -> None:
    from replicate_min._retry import RetryPolicy, parse_retry_after

    policy = RetryPolicy()
    seconds = parse_retry_after(retry_after, b"", 1_700_000_000.0)
    delay = policy.delay(0, idempotent=True, status=429, retry_after=seconds)
    assert delay is not None and 0 <= delay <= policy.max_retry_after


@pytest.mark.parametrize("digits", [401, 5000])
def test_sse_retry_with_hundreds_of_digits_is_clamped_or_ignored(raw: RawFactory, digits: int) -> None:
    body = b"retry: " + b"9" * digits + b"\n\nevent: output\nid: 1:0\ndata: hi\n\nevent: done\ndata: {}\n\n"
    server = _stream_server(raw, lambda n: body)
    events = list(_client(server).predictions.get("s").stream(max_reconnects=0))
    assert [str(e) for e in events if e.event == "output"] == ["hi"]


def test_sse_parser_retry_hundreds_of_digits_is_a_plain_number() -> None:
    from replicate_min._sse import SSEParser

    parser = SSEParser()
    parser.feed(b"retry: " + b"9" * 5000 + b"\n\n")
    assert parser.retry is None or (isinstance(parser.retry, int) and parser.retry < 10**12)
    float(parser.retry or 0) / 1000  # never an OverflowError where the delay is computed


# -- cause 11: unbounded memory ------------------------------------------------------------------


def _big_body(total: int) -> Iterator[bytes]:
    chunk = b"x" * 65536
    sent = 0
    while sent < total:
        yield chunk
        sent += len(chunk)


def _big_body_server(raw: RawFactory, total: int, chunked: bool) -> RawServer:
    def script(conn: Conn) -> None:
        if conn.read_request() is None:
            return
        if chunked:
            conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            conn.send_all(b"%x\r\n%s\r\n" % (len(c), c) for c in _big_body(total))
        else:
            conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % total)
            conn.send_all(_big_body(total))

    return raw(script)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_larger_than_max_response_size_is_refused(raw: RawFactory, chunked: bool) -> None:
    server = _big_body_server(raw, 5 * 1024 * 1024, chunked)
    with pytest.raises(ResponseTooLargeError):
        _client(server, max_response_size=1 << 20, max_retries=0).predictions.get("a")


def test_declared_300mb_body_is_refused_without_reading_it_all(raw: RawFactory) -> None:
    server = _big_body_server(raw, 300 * 1024 * 1024, False)
    done = threading.Event()
    outcome: list = []

    def call() -> None:
        try:
            _client(server, max_response_size=1 << 20, max_retries=0).predictions.get("a")
        except BaseException as exc:
            outcome.append(exc)
        done.set()

    threading.Thread(target=call, daemon=True).start()
    assert done.wait(20)
    assert outcome and isinstance(outcome[0], ResponseTooLargeError), outcome


def test_peak_memory_stays_near_max_response_size(raw: RawFactory) -> None:
    server = _big_body_server(raw, 8 * 1024 * 1024, False)
    client = _client(server, max_response_size=1 << 20, max_retries=0)
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLargeError):
            client.predictions.get("a")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * (1 << 20), f"peak {peak} bytes for a 1 MiB cap"


def test_replay_filter_memory_is_bounded_for_unique_100kb_ids() -> None:
    from replicate_min._sse import ServerSentEvent
    from replicate_min._streaming import ReplayFilter

    replays = ReplayFilter()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for n in range(300):  # 30 MB of ids in all
            event_id = f"{n:08d}" + "x" * 100_000
            replays.accept([ServerSentEvent("output", "d", event_id)])
            if n % 50 == 0:
                replays.resume(event_id)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 4 * 1024 * 1024, f"the replay filter kept {after - before} bytes"


def test_stream_of_unique_100kb_ids_keeps_memory_bounded(raw: RawFactory) -> None:
    events = b"".join(b"event: output\nid: %08d%s\ndata: x\n\n" % (i, b"y" * 100_000) for i in range(150))
    body = events + b"event: done\ndata: {}\n\n"  # built before tracing: 15 MB of unique ids
    server = _stream_server(raw, lambda n: body)
    p = _client(server).predictions.get("s")
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        stream = p.stream(max_reconnects=0)
        count = sum(1 for _ in stream)
        after, _ = tracemalloc.get_traced_memory()  # the stream object is still alive here
    finally:
        tracemalloc.stop()
    assert count == 151
    assert after - before < 4 * 1024 * 1024, f"the stream kept {after - before} bytes after 15 MB of ids"
    assert stream.closed


def test_unknown_statuses_do_not_accumulate_in_module_state() -> None:
    import replicate_min

    modules = [m for name, m in sys.modules.items() if name.startswith("replicate_min") and m is not None]

    def sizes() -> int:
        total = 0
        for module in modules:
            for value in list(vars(module).values()):
                if isinstance(value, (set, dict, list)):
                    total += len(value)
        return total

    Prediction.from_json(prediction("warmup", "warmup-status"))
    logging.getLogger("replicate_min").disabled = True
    try:
        before = sizes()
        for n in range(3000):
            Prediction.from_json(prediction(f"p{n}", f"status-{n}"))
        after = sizes()
    finally:
        logging.getLogger("replicate_min").disabled = False
    assert after - before <= 64, f"module-level containers grew by {after - before} entries"
    assert replicate_min  # imported for sys.modules


# -- cause 12: a redirected create is not followed -----------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirected_create_is_an_error_and_not_followed(raw: RawFactory, status: int) -> None:
    def answer(request: Request) -> bytes:
        if request.method == "POST":
            return response(status, b"", {"Location": "/v1/predictions/target"})
        return response(200, prediction("target", "succeeded"))

    server = raw(serve_each(answer))
    with pytest.raises(ReplicateError) as info:
        _client(server).predictions.create(version="v", input={})
    assert info.value.status == status
    assert [(r.method, r.path) for r in server.requests] == [("POST", "/v1/predictions")]


# -- cause 15: log injection ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"id": "p1", "status": "weird-1\nWARNING:replicate_min:forged line"},  # an id like that is refused (G9)
        {"id": "p2", "status": "weird\r\nWARNING:replicate_min:forged line"},
        {"id": "p3", "status": "weird-\x1b]0;title\x07"},
    ],
)
def test_server_text_in_log_records_has_no_raw_line_breaks(
    raw: RawFactory, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, fields: Dict[str, str]
) -> None:
    server = raw(serve_each(lambda r: response(201, prediction(**fields))))
    caplog.set_level(logging.DEBUG, logger="replicate_min")
    _client(server).predictions.create(version="v", input={})
    messages = [record.getMessage() for record in caplog.records]
    assert messages, "the unknown status was not logged"
    for message in messages:
        assert "\n" not in message and "\r" not in message and "\x1b" not in message, message


@pytest.mark.parametrize("depth", [101, 500])
def test_json_nested_past_the_limit_is_refused_so_every_prediction_pickles(raw: RawFactory, depth: int) -> None:
    import json
    import pickle

    from replicate_min import ModelError, Prediction

    def body(levels: int) -> bytes:  # a failed prediction whose output nests `levels` deep
        return b'{"id": "a", "status": "failed", "output": ' + b"[" * levels + b"]" * levels + b"}"

    server = raw(serve_each(lambda r: response(200, body(depth))))
    with pytest.raises(ValidationError, match=r"nests deeper than 10[03] levels"):
        _client(server).predictions.get("a")
    with pytest.raises(ValidationError, match="nests deeper than 100 levels"):  # a webhook's body, decoded
        Prediction.from_json(json.loads(body(depth)))
    deepest = Prediction.from_json(json.loads(body(100)))  # the most the limit lets through
    assert pickle.loads(pickle.dumps(ModelError(deepest))).prediction.output == deepest.output
    assert copy.deepcopy(deepest).output == deepest.output


def test_a_page_of_predictions_with_outputs_nested_to_the_limit_is_read(raw: RawFactory) -> None:
    deep = b"[" * 100 + b"]" * 100
    item = b'{"id": "a", "status": "succeeded", "input": {}, "urls": {}, "output": ' + deep + b"}"
    server = raw(serve_each(lambda r: response(200, b'{"results": [' + item + b'], "next": null}')))
    assert [p.id for p in _client(server).predictions.list()] == ["a"]


def test_a_body_of_a_million_empty_objects_is_refused_before_it_is_decoded(raw: RawFactory) -> None:
    # 3 MB of "{}," would take ~100 MB decoded: refused by counting brackets on the bytes.
    body = b'{"results": [' + b"{}," * 1_000_000 + b'{}], "next": null}'
    server = raw(serve_each(lambda r: response(200, body)))
    client = _client(server)
    tracemalloc.start()
    try:
        with pytest.raises(ValidationError, match="more than 1000000 objects and arrays"):
            client.predictions.list()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * len(body)


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 33, 33\r\n",
        b"Content-Length: 33\r\nContent-Length: 33\r\n",
        b"Transfer-Encoding:  Chunked \r\n",
    ],
    ids=["equal-list", "equal-lines", "chunked-with-spaces"],
)
def test_framing_the_rfc_allows_is_read_as_framed_and_the_connection_reused(raw: RawFactory, framing: bytes) -> None:
    body = b'{"id": "a", "status": "starting"}'
    if b"hunked" in framing:
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + framing + b"\r\n" + body
    server = raw(serve_each(lambda r: answer if r.path.endswith("/a") else response(200, prediction("b"))))
    client = _client(server, max_retries=0, timeout=30)
    assert client.predictions.get("a").id == "a"  # (read to its framed end, not waiting for a close)
    assert client.predictions.get("b").id == "b"
    assert [r.connection for r in server.requests] == ([1, 2] if b"Content-Length: 33, 33" in framing else [1, 1])
