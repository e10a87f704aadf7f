"""Regression tests for the nine problems of the core redesign (issue 10), one section each."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import itertools
import pickle
import socket
import threading
import typing
from typing import Any, Iterator, List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import replicate_min
from replicate_min import (
    APITimeoutError,
    Client,
    Page,
    Prediction,
    PredictionCanceledError,
    ReplicateError,
    Status,
    StreamError,
    WaitTimeoutError,
)
from replicate_min._sse import SSEParser
from replicate_min.testing import FakeReplicate

# -- 1. one iteration protocol; close() safe at any moment ---------------------------------


def test_islice_then_list_takes_every_event_from_one_queue(client: Client) -> None:
    prediction = client.predictions.create(model="replicate-min/tokens", input={"prompt": "a b c d e"})
    stream = prediction.stream()
    assert iter(stream) is stream
    head = list(itertools.islice(stream, 1))
    rest = list(stream)
    events = head + rest
    assert "".join(str(event) for event in events) == "a b c d e"
    assert events[-1].event == "done"


class _OneEventThenDrop:
    """A raw SSE server: one event with ``retry: 60000``, then the connection closes (the
    prediction still runs, so the stream waits the capped retry delay to reconnect)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                request = conn.recv(65536)
                if request.startswith(b"GET /stream"):
                    kind, body = b"text/event-stream", b"retry: 60000\nevent: output\nid: 1\ndata: first\n\n"
                else:  # the reload that asks whether the prediction finished: it has not
                    kind, body = b"application/json", b'{"id": "p", "status": "processing"}'
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (kind, len(body), body)
                )

    def close(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() below on Linux
        except OSError:
            pass
        self.listener.close()
        self.thread.join(5)


def test_close_from_another_thread_during_a_reconnect_wait_ends_the_stream_cleanly() -> None:
    server = _OneEventThenDrop()
    client = Client(api_token="r8_test", base_url=f"http://127.0.0.1:{server.port}")
    prediction = Prediction(
        id="p", status="processing", urls={"stream": f"http://127.0.0.1:{server.port}/stream"}
    ).bind(client)
    stream = prediction.stream()
    got_first = threading.Event()
    outcome: List[Any] = []

    def consume() -> None:
        try:
            for event in stream:
                outcome.append(event.data)
                got_first.set()
        except BaseException as exc:  # the test asserts there is none
            outcome.append(exc)

    consumer = threading.Thread(target=consume)
    consumer.start()
    try:
        assert got_first.wait(10)
        stream.close()  # the stream is waiting up to 30 s to reconnect, or about to
        consumer.join(10)
        assert not consumer.is_alive(), "close() did not cut the reconnect wait short"
        assert outcome == ["first"]
    finally:
        stream.close()
        consumer.join(5)
        server.close()
        client.close()


# -- 2. a response gives its connection back once; nothing it holds touches it after ----


def test_a_stream_read_to_its_end_then_closed_leaves_its_pooled_connection_alone(
    client: Client, fake: FakeReplicate
) -> None:
    prediction = client.predictions.create(model="replicate-min/echo", input={"prompt": "x"}, wait=True)
    prediction.wait()
    assert prediction.urls is not None
    response = client.requester.open_stream(prediction.urls["stream"])
    while response.read1():
        pass  # to the end of the body: the connection is back in the pool
    connections = fake.connections
    response.abort()  # must not shut down a socket the pool owns now
    response.close()
    again = client.predictions.create(model="replicate-min/echo", input={"prompt": "y"})
    assert again.input == {"prompt": "y"}
    assert fake.connections == connections  # the pooled connection served the create


# -- 3. one meaning per value ----------------------------------------------------------------


def test_none_as_the_stream_idle_timeout_means_no_limit(fake: FakeReplicate) -> None:
    # The read timeout is short; a stream with no idle limit must not inherit it.
    client = Client(
        api_token=fake.token, base_url=fake.base_url, read_timeout=0.05, stream_idle_timeout=None, poll_interval=0.01
    )
    with Client(api_token=fake.token, base_url=fake.base_url) as setup:  # a loaded machine may answer in 0.05 s+
        prediction = setup.predictions.create(model="replicate-min/tokens", input={"prompt": "a b"}).bind(client)
    fake.stream_fault("stall", after=1, seconds=0.4)
    before = len(fake.requests)
    text = "".join(str(event) for event in prediction.stream())
    assert text == "a b"
    # The fake closes the stream when the 0.4 s stall ends, and the client resumes it: once, after
    # the stall (the fake's clock is real time here), not 0.05 s into it as a read timeout would.
    first, resumed = [r for r in fake.requests[before:] if r.path.startswith("/v1/streams/")]
    assert resumed.headers["last-event-id"] == "1" and resumed.time - first.time >= 0.4
    client.close()


def test_the_per_read_timeout_and_the_overall_deadline_have_distinct_names(fake: FakeReplicate) -> None:
    client = Client(api_token=fake.token, base_url=fake.base_url, read_timeout=12)
    assert client.read_timeout == 12 and client.timeout == 12  # timeout: the earlier name, kept
    assert "timeout" in inspect.signature(Prediction.wait).parameters  # wait's is a deadline
    with pytest.raises(TypeError, match="not both"):
        Client(api_token="r8_x", read_timeout=5, timeout=6)


def test_use_client_default_is_a_distinct_sentinel() -> None:
    assert replicate_min.USE_CLIENT_DEFAULT is not None
    assert copy.deepcopy(replicate_min.USE_CLIENT_DEFAULT) is replicate_min.USE_CLIENT_DEFAULT
    signature = inspect.signature(Prediction.stream)
    assert signature.parameters["idle_timeout"].default is replicate_min.USE_CLIENT_DEFAULT


# -- 4. configuration applies at once, or is read-only --------------------------------------


def test_max_retries_set_after_the_first_request_applies_to_the_next(client: Client, fake: FakeReplicate) -> None:
    prediction = client.predictions.create(model="replicate-min/forever", input={})
    client.predictions.get(prediction.id)  # the transport exists now
    client.max_retries = 0
    fake.fail_next(status=503, method="GET", path=f"/v1/predictions/{prediction.id}")
    gets = sum(1 for r in fake.requests if r.method == "GET")
    with pytest.raises(ReplicateError) as info:
        client.predictions.get(prediction.id)
    assert info.value.status == 503
    assert sum(1 for r in fake.requests if r.method == "GET") == gets + 1  # not retried


def test_read_timeout_set_after_the_first_request_applies_to_the_next(client: Client, fake: FakeReplicate) -> None:
    prediction = client.predictions.create(model="replicate-min/forever", input={})
    client.predictions.get(prediction.id)
    client.read_timeout = 0.1
    client.max_retries = 0
    fake.fail_next(kind="hang", seconds=3, method="GET", path=f"/v1/predictions/{prediction.id}")
    with pytest.raises(APITimeoutError):
        client.predictions.get(prediction.id)


def test_settings_that_shape_the_pool_are_read_only_once_it_exists(client: Client) -> None:
    with pytest.raises(AttributeError):
        client.base_url = "https://example.com"  # type: ignore[misc]
    client.predictions.list()
    with pytest.raises(AttributeError, match="cannot change"):
        client.requester.update(max_concurrency=2)
    with pytest.raises(ValueError):
        client.poll_interval = -1  # validated as at construction


# -- 5. a bound prediction copies, compares and pickles as data ----------------------------


def test_a_bound_prediction_can_be_copied_serialized_and_pickled(
    client: Client, fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch
) -> None:
    prediction = client.predictions.create(model="replicate-min/echo", input={"prompt": "x"})
    prediction.wait()
    data = dataclasses.asdict(prediction)
    assert data["id"] == prediction.id and "_requester" not in data and "_client" not in data
    twin = copy.deepcopy(prediction)
    assert twin == prediction and twin is not prediction
    twin.reload()  # acts through the same client
    restored = pickle.loads(pickle.dumps(prediction))
    assert restored == prediction
    monkeypatch.setenv("REPLICATE_API_TOKEN", fake.token)
    monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)
    restored.reload()  # an unpickled prediction uses the default client...
    assert restored.bind(client) is restored  # ... until bound again
    assert "client" not in {field.name for field in dataclasses.fields(Prediction)}


# -- 6. types that tools can read ------------------------------------------------------------


def _public_objects() -> Iterator[Any]:
    for name in replicate_min.__all__:
        if name in ("predictions", "__version__", "USE_CLIENT_DEFAULT"):
            continue
        value = getattr(replicate_min, name)
        yield value
        if inspect.isclass(value):
            for attribute, member in vars(value).items():
                if inspect.isfunction(member) and (not attribute.startswith("_") or attribute == "__init__"):
                    yield member


def test_get_type_hints_works_on_every_public_name() -> None:
    checked = 0
    for value in _public_objects():
        if inspect.isclass(value) or inspect.isfunction(value):
            typing.get_type_hints(value)
            checked += 1
    assert checked > 60


def test_page_is_generic_at_run_time() -> None:
    alias = Page[Prediction]
    assert typing.get_origin(alias) is Page and typing.get_args(alias) == (Prediction,)


def test_module_level_functions_have_real_signatures() -> None:
    for function in (replicate_min.run, replicate_min.stream, replicate_min.async_run, replicate_min.async_stream):
        kinds = {parameter.kind for parameter in inspect.signature(function).parameters.values()}
        assert inspect.Parameter.VAR_KEYWORD not in kinds, function
    create = inspect.signature(replicate_min.Predictions.async_create).parameters
    assert inspect.Parameter.VAR_KEYWORD not in {parameter.kind for parameter in create.values()}


# -- 7. the SSE fast path is the general path --------------------------------------------------


def _feed_whole(chunks: List[bytes], size: int) -> Any:
    parser = SSEParser(size)
    try:
        return [(e.event, e.data, e.id, e.retry) for e in parser.feed(b"".join(chunks)) + parser.close()]
    except StreamError:
        return StreamError


def _feed_split(data: bytes, cuts: List[int], size: int) -> Any:
    parser = SSEParser(size)
    events = []
    try:
        start = 0
        for cut in [*sorted(cuts), len(data)]:
            events += parser.feed(data[start:cut])
            start = cut
        events += parser.close()
    except StreamError:
        return StreamError
    return [(e.event, e.data, e.id, e.retry) for e in events]


def test_a_value_at_the_bound_is_treated_alike_whole_and_split() -> None:
    data = b"event: output\nid: 1\ndata: 0123456789\n\n"
    for size in (10, 16, 17):
        whole = _feed_whole([data], size)
        for cut in range(1, len(data)):
            assert _feed_split(data, [cut], size) == whole, (size, cut)


_FIELDS = ("event", "id", "data")


@st.composite
def _replicate_events(draw: Any) -> tuple[bytes, int]:
    """Replicate-shaped streams: event/id/data lines in any order, any line ending, sizes near the bound."""
    bound = draw(st.integers(min_value=8, max_value=40))
    newline = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    blocks = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        order = draw(st.permutations(_FIELDS))
        lines = []
        for name in order:
            if name == "data":
                length = draw(st.integers(min_value=0, max_value=bound + 2))
                lines.append(b"data: " + b"x" * (length - 6 if length > 6 else length))
            elif name == "event":
                lines.append(b"event: " + draw(st.sampled_from([b"output", b"logs", b"done", b""])))
            else:
                lines.append(b"id: " + str(draw(st.integers(0, 10**6))).encode() + b":0")
        blocks.append(newline.join(lines) + newline + newline)
    return b"".join(blocks), bound


@settings(max_examples=300, deadline=None)
@given(_replicate_events(), st.lists(st.integers(min_value=0, max_value=4000), max_size=6))
def test_any_chunking_of_replicate_shaped_events_parses_alike(stream: tuple[bytes, int], cuts: List[int]) -> None:
    data, bound = stream
    cuts = [cut % (len(data) + 1) for cut in cuts]
    assert _feed_split(data, cuts, bound) == _feed_whole([data], bound)
    line_by_line = [data[i : i + 1] for i in range(len(data))]
    assert _feed_split(data, list(range(1, len(data))), bound) == _feed_whole(line_by_line, bound)


# -- 8. one meaning per status ----------------------------------------------------------------


def test_statuses_are_one_enum_that_compares_as_strings(client: Client) -> None:
    prediction = client.predictions.create(model="replicate-min/echo", input={"prompt": "x"})
    prediction.wait()
    assert prediction.status is Status.SUCCEEDED and prediction.status == "succeeded"
    assert f"{prediction.status}" == "succeeded" and Status.SUCCEEDED.terminal and not Status.STARTING.terminal
    assert {status.value for status in Status} == {
        "starting",
        "processing",
        "succeeded",
        "failed",
        "canceled",
        "aborted",
    }


@pytest.mark.parametrize("status", ["canceled", "aborted"])
def test_run_and_output_iterator_follow_one_rule_for_canceled(client: Client, fake: FakeReplicate, status: str) -> None:
    from replicate_min._run import output_of

    prediction = client.predictions.create(model="replicate-min/forever", input={})
    fake.update(prediction.id, status=status)
    with pytest.raises(PredictionCanceledError):
        list(prediction.output_iterator())
    prediction.wait()  # wait() only waits
    with pytest.raises(PredictionCanceledError):
        output_of(prediction)  # what run() returns through


def test_a_wait_timeout_always_carries_the_prediction(client: Client) -> None:
    prediction = client.predictions.create(model="replicate-min/forever", input={})
    with pytest.raises(WaitTimeoutError) as info:
        prediction.wait(timeout=0.05)
    assert isinstance(info.value.prediction, Prediction) and info.value.prediction.id == prediction.id
    hints = typing.get_type_hints(WaitTimeoutError.__init__)
    assert hints["prediction"] is Prediction  # not Optional
