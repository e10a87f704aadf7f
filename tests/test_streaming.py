"""Prediction.stream / output_iterator and their async twins, over real HTTP to the fake."""

from __future__ import annotations

import asyncio
import itertools
import socket
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from typing import Any, Iterator, List

import pytest

from replicate_min import (
    Client,
    ModelError,
    Prediction,
    PredictionCanceledError,
    ReplicateError,
    ServerSentEvent,
    StreamError,
)
from replicate_min.testing import FakeReplicate, ManualClock


def outputs(events: List[ServerSentEvent]) -> List[str]:
    return [e.data for e in events if e.event == "output"]


def wait_until(condition: Any, seconds: float = 60.0) -> bool:
    """Waits for the fake to see what the client did (a connection closed): it answers as soon as it
    does; ``seconds`` is a safety net only, long enough for a loaded machine."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.005)
    return condition()  # type: ignore[no-any-return]


def endless_prediction_with_no_open_connection(client: Client, fake: FakeReplicate) -> Prediction:
    """A prediction that never ends, with one output event ready, and the client's idle
    pooled connection closed: a stream's connection is then the only one open. The fake notices
    a closed connection when it next writes: frequent keep-alives make that soon."""
    fake.keepalive_interval = 0.02
    prediction = client.predictions.create(model="replicate-min/forever", input={})
    fake.update(prediction.id, events=[("output", "one")])
    client.close()
    assert wait_until(lambda: fake.open_connections == 0)
    return prediction


def test_stream_yields_output_logs_and_done(client: Client, fake: FakeReplicate) -> None:
    prediction = client.predictions.create(model="replicate-min/tokens", input={"prompt": "a b\u2028c"})
    events = list(prediction.stream())
    assert outputs(events) == ["a", " b\u2028c"]
    assert [e.event for e in events] == ["output", "logs", "output", "logs", "done"]
    assert [e.id for e in events] == ["1", "2", "3", "4", "5"]
    assert "".join(str(e) for e in events) == "a b\u2028c"
    request = next(r for r in fake.requests if r.path.startswith("/v1/streams/"))
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["cache-control"] == "no-store"


def test_multi_line_output_survives(client: Client, fake: FakeReplicate) -> None:
    fake.add_model("test/lines", lambda input: ["line one\nline two\r\n", "\n\nend", "cr\ronly"])
    prediction = client.predictions.create(model="test/lines", input={})
    # SSE cannot carry CR: a CRLF or lone CR in the output arrives as LF.
    assert outputs(list(prediction.stream())) == ["line one\nline two\n", "\n\nend", "cr\nonly"]


def test_the_first_event_arrives_before_the_second_is_sent(client: Client, fake: FakeReplicate) -> None:
    release = threading.Event()

    def gated(input: Any) -> Iterator[str]:
        yield "first"
        release.wait(10)
        yield "second"

    fake.add_model("test/gated", gated)
    prediction = client.predictions.create(model="test/gated", input={})
    stream = prediction.stream()
    first = next(stream)
    assert first.data == "first" and not release.is_set()  # the server cannot have sent "second"
    release.set()
    assert outputs(list(stream)) == ["second"]


def test_an_error_event_raises_stream_error_with_its_detail(client: Client) -> None:
    prediction = client.predictions.create(model="replicate-min/fail", input={})
    with pytest.raises(StreamError) as info:
        list(prediction.stream())
    assert info.value.detail == "the model failed on purpose"


def test_no_stream_url_is_a_replicate_error(client: Client) -> None:
    prediction = Prediction(id="x", status="starting", urls={"get": "g"}).bind(client)
    with pytest.raises(ReplicateError, match="does not support streaming"):
        prediction.stream()


def test_a_stream_url_answering_an_error_status_is_a_replicate_error(client: Client, fake: FakeReplicate) -> None:
    prediction = Prediction(id="x", status="starting", urls={"stream": fake.base_url + "/v1/streams/nope"}).bind(client)
    with pytest.raises(ReplicateError) as info:
        list(prediction.stream())
    assert info.value.status == 404


def test_a_stream_url_that_is_not_sse_is_a_stream_error(client: Client, fake: FakeReplicate) -> None:
    prediction = Prediction(id="x", status="starting", urls={"stream": fake.base_url + "/v1/predictions"}).bind(client)
    with pytest.raises(StreamError, match="application/json"):
        list(prediction.stream())


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"idle_timeout": -1}, ValueError), ({"max_reconnects": -1}, ValueError), ({"idle_timeout": "1"}, TypeError)],
)
def test_bad_stream_arguments(client: Client, kwargs: Any, error: type[Exception]) -> None:
    prediction = client.predictions.create(model="replicate-min/echo", input={})
    with pytest.raises(error):
        prediction.stream(**kwargs)


@pytest.mark.parametrize("kind", ["drop", "garbage"])
def test_a_broken_stream_resumes_with_last_event_id_and_no_duplicates(
    client: Client, fake: FakeReplicate, kind: str
) -> None:
    fake.stream_fault(kind, after=3)
    prediction = client.predictions.create(model="replicate-min/tokens", input={"prompt": "a b c d e"})
    events = list(prediction.stream())
    assert outputs(events) == ["a", " b", " c", " d", " e"]
    ids = [e.id for e in events]
    assert len(ids) == len(set(ids))
    streams = [r for r in fake.requests if r.path.startswith("/v1/streams/")]
    assert len(streams) == 2 and streams[1].headers["last-event-id"] == "3"


@pytest.mark.parametrize("id_format", ["{}", "1690212292:{}", "evt-{}-x"])
def test_a_server_that_replays_from_the_start_yields_nothing_twice(
    client: Client, fake: FakeReplicate, id_format: str
) -> None:
    fake.event_id_format = id_format
    fake.honour_last_event_id = False
    fake.stream_fault("drop", after=5)
    prediction = client.predictions.create(model="replicate-min/tokens", input={"prompt": "a b c d e f"})
    events = list(prediction.stream())
    assert outputs(events) == ["a", " b", " c", " d", " e", " f"]
    assert [e.id for e in events] == [id_format.format(n) for n in range(1, 14)]


def test_outputs_before_an_error_event_are_delivered_first(client: Client, fake: FakeReplicate) -> None:
    def partial_then_fail(input: Any) -> Iterator[str]:
        yield "one"
        yield "two"
        raise RuntimeError("ran out of memory")

    fake.add_model("test/partial", partial_then_fail)
    prediction = client.predictions.create(model="test/partial", input={}, wait=True)  # all events in one chunk
    seen = []
    with pytest.raises(StreamError, match="ran out of memory"):
        for event in prediction.stream():
            seen.append(event)
    assert outputs(seen) == ["one", "two"]
    with pytest.raises(StreamError):
        stream = prediction.stream()
        while True:
            next(stream)


def test_a_silent_stream_is_resumed_after_the_idle_timeout(client: Client, fake: FakeReplicate) -> None:
    fake.stream_fault("stall", after=2, seconds=3)
    prediction = client.predictions.create(model="replicate-min/tokens", input={"prompt": "a b c"})
    # The stall outlasts the whole stream: the resume below is the idle timeout's doing.
    events = list(prediction.stream(idle_timeout=0.3))
    assert outputs(events) == ["a", " b", " c"]
    streams = [r for r in fake.requests if r.path.startswith("/v1/streams/")]
    assert streams[-1].headers["last-event-id"] == "2"


def test_keep_alive_comments_hold_off_the_idle_timeout(fake: FakeReplicate) -> None:
    fake.keepalive_interval = 0.05
    client = Client(api_token=fake.token, base_url=fake.base_url)

    def slow(input: Any) -> Iterator[Any]:
        time.sleep(0.5)
        yield "late"

    fake.add_model("test/slow", slow)
    prediction = client.predictions.create(model="test/slow", input={})
    assert outputs(list(prediction.stream(idle_timeout=0.2, max_reconnects=0))) == ["late"]
    client.close()


def test_a_stream_that_never_comes_back_gives_up(client: Client, fake: FakeReplicate) -> None:
    fake.stream_fault("drop", after=1, times=10)
    prediction = client.predictions.create(model="replicate-min/tokens", input={"prompt": "a b c d e f"})
    with pytest.raises(StreamError, match="2 reconnects"):
        list(prediction.stream(max_reconnects=2))


def test_an_oversized_line_is_a_stream_error(client: Client, fake: FakeReplicate) -> None:
    fake.stream_fault("oversized", after=1, size=200_000)
    prediction = client.predictions.create(model="replicate-min/tokens", input={"prompt": "a b"})
    with pytest.raises(StreamError, match="max_event_size"):
        list(prediction.stream(max_event_size=100_000))


def test_a_stream_ending_without_done_on_a_finished_prediction_just_ends(client: Client, fake: FakeReplicate) -> None:
    prediction = client.predictions.create(model="replicate-min/echo", input={"prompt": "x"}, wait=True)
    fake.update(prediction.id, events=[("output", "x")])  # as if the server never sent done
    assert outputs(list(prediction.stream())) == ["x"]


def test_closing_early_closes_the_connection(client: Client, fake: FakeReplicate) -> None:
    prediction = endless_prediction_with_no_open_connection(client, fake)
    before = 0
    with prediction.stream() as stream:
        assert next(stream).data == "one"
        assert fake.open_connections == before + 1
    assert wait_until(lambda: fake.open_connections == before)
    for _event in prediction.stream():  # leaving a for loop early closes it too
        break
    assert wait_until(lambda: fake.open_connections == before)
    prediction.cancel()


def test_output_iterator_yields_each_new_item_then_stops(client: Client) -> None:
    prediction = client.predictions.create(model="replicate-min/tokens", input={"prompt": "a b c"})
    assert list(prediction.output_iterator()) == ["a", " b", " c"]
    assert prediction.status == "succeeded"


def test_output_iterator_includes_items_present_before_the_call(client: Client) -> None:
    prediction = client.predictions.create(model="replicate-min/tokens", input={"prompt": "a b"}, wait=True)
    assert list(prediction.output_iterator()) == ["a", " b"]


def test_output_iterator_yields_a_non_list_output_once_at_the_end(client: Client) -> None:
    prediction = client.predictions.create(model="replicate-min/echo", input={"prompt": "whole"})
    assert list(prediction.output_iterator()) == ["whole"]


def test_output_iterator_raises_model_error_on_failure(client: Client) -> None:
    prediction = client.predictions.create(model="replicate-min/fail", input={})
    with pytest.raises(ModelError) as info:
        list(prediction.output_iterator())
    assert info.value.prediction is prediction


def test_output_iterator_raises_on_cancel_and_abort_like_run(client: Client, fake: FakeReplicate) -> None:
    # One rule for canceled and aborted: run() and output_iterator() both raise
    # PredictionCanceledError after what was produced; wait() only waits.
    for status in ("canceled", "aborted"):
        prediction = client.predictions.create(model="replicate-min/forever", input={})
        fake.update(prediction.id, status=status, output=["a"])
        items = []
        with pytest.raises(PredictionCanceledError) as info:
            for item in prediction.output_iterator():
                items.append(item)
        assert items == ["a"] and info.value.prediction.status == status
        prediction.wait()  # returns: the prediction has ended
        assert prediction.status == status


def test_async_stream_and_async_output_iterator(client: Client) -> None:
    async def main() -> tuple[list[str], list[Any]]:
        first = await client.predictions.async_create(model="replicate-min/tokens", input={"prompt": "x y"})
        second = await client.predictions.async_create(model="replicate-min/tokens", input={"prompt": "p q"})
        streamed = [e.data async for e in first.async_stream() if e.event == "output"]
        polled = [item async for item in second.async_output_iterator()]
        return streamed, polled

    assert asyncio.run(main()) == (["x", " y"], ["p", " q"])


def test_async_output_iterator_raises_model_error(client: Client) -> None:
    async def main() -> None:
        prediction = await client.predictions.async_create(model="replicate-min/fail", input={})
        async for _ in prediction.async_output_iterator():
            pass

    with pytest.raises(ModelError):
        asyncio.run(main())


def test_breaking_out_of_async_for_closes_the_connection(client: Client, fake: FakeReplicate) -> None:
    prediction = endless_prediction_with_no_open_connection(client, fake)
    before = 0

    async def main() -> None:
        async for event in prediction.async_stream():
            assert event.data == "one"
            break
        await asyncio.sleep(0.1)

    asyncio.run(main())
    assert wait_until(lambda: fake.open_connections == before)
    prediction.cancel()


def test_cancelling_the_task_closes_the_connection(client: Client, fake: FakeReplicate) -> None:
    prediction = endless_prediction_with_no_open_connection(client, fake)
    before = 0

    async def main() -> None:
        async def consume() -> None:
            async for _ in prediction.async_stream():
                pass

        task = asyncio.ensure_future(consume())
        assert await asyncio.to_thread(wait_until, lambda: fake.open_connections == before + 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert wait_until(lambda: fake.open_connections == before)
    prediction.cancel()


def test_streams_work_across_repeated_event_loops(client: Client) -> None:
    prediction = client.predictions.create(model="replicate-min/tokens", input={"prompt": "a b"}, wait=True)

    async def collect() -> list[str]:
        return [e.data async for e in prediction.async_stream() if e.event == "output"]

    for _ in range(3):
        assert asyncio.run(collect()) == ["a", " b"]


def test_ten_streams_and_a_get_progress_together() -> None:
    # A ManualClock fake: no stream can end before the test moves time, so ten streams parked on
    # the clock at once prove they run together, and a get answered meanwhile proves they hold
    # nothing it needs. (On real time this measured seconds, which a loaded machine stretches.)
    clock = ManualClock()
    with FakeReplicate(clock=clock, start_delay=0, step=0.1) as fake:
        fake.add_model("test/ten", lambda input: [str(i) for i in range(10)])
        client = Client(api_token=fake.token, base_url=fake.base_url)

        async def main() -> list[list[str]]:
            predictions = [await client.predictions.async_create(model="test/ten", input={}) for _ in range(10)]

            async def consume(prediction: Prediction) -> list[str]:
                return [e.data async for e in prediction.async_stream() if e.event == "output"]

            tasks = [asyncio.ensure_future(consume(p)) for p in predictions]
            end = time.monotonic() + 60  # a safety net: the wait is for ten streams to be open
            while clock.waiters < 10:  # ten stream requests wait on the clock for their first item
                assert time.monotonic() < end, clock.waiters
                await asyncio.sleep(0.005)
            got = await asyncio.wait_for(client.predictions.async_get(predictions[0].id), 60)
            assert got.status == "processing" and got.output in (None, [])
            assert not any(task.done() for task in tasks)  # the get did not wait for any stream
            clock.advance(1.1)  # every item is due, and the end
            return await asyncio.wait_for(asyncio.gather(*tasks), 60)

        results = asyncio.run(main())
        assert results == [[str(i) for i in range(10)]] * 10
        client.close()


def test_streaming_tens_of_megabytes_keeps_memory_flat() -> None:
    """The fake runs in another process, so only the client's memory is traced."""
    server = textwrap.dedent(
        """
        import sys, time
        from replicate_min.testing import FakeReplicate, ManualClock
        fake = FakeReplicate(start_delay=0, step=0)
        fake.add_model("test/big", lambda input: ("y" * 20_000 for _ in range(1500)))
        fake.start()
        print(fake.base_url, fake.token, flush=True)
        sys.stdin.read()
        fake.stop()
        """
    )
    process = subprocess.Popen([sys.executable, "-c", server], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        base_url, token = process.stdout.readline().split()
        client = Client(api_token=token, base_url=base_url)
        prediction = client.predictions.create(model="test/big", input={})
        tracemalloc.start()
        received = 0
        for event in prediction.stream():
            if event.event == "output":
                received += len(event.data)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert received == 30_000_000
        assert peak < 8 * 1024 * 1024, peak
        client.close()
    finally:
        process.communicate("", timeout=10)


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


def test_a_stream_whose_prediction_is_canceled_yields_done_and_ends_cleanly(
    client: Client, fake: FakeReplicate
) -> None:
    # The "Stop generating" button: another thread cancels, the reading loop simply ends.
    from replicate_min.testing import WAIT

    def first_then_forever(input: Any) -> Iterator[Any]:
        yield "first"
        while True:
            yield WAIT  # a model that never finishes by itself

    fake.add_model("test/endless", first_then_forever)
    prediction = client.predictions.create(model="test/endless", input={})
    seen: List[Any] = []
    for event in prediction.stream():
        seen.append(event)
        if len(seen) == 1:
            stopper = threading.Thread(target=fake.cancel, args=(prediction.id,))
            stopper.start()
            stopper.join()
    assert seen[-1].event == "done" and "canceled" in seen[-1].data
    assert prediction.status == "canceled"
    with pytest.raises(PredictionCanceledError):  # output_iterator keeps raising, as documented
        list(prediction.output_iterator())


def test_the_async_stream_is_its_own_async_iterator(client: Client) -> None:
    async def main() -> bool:
        prediction = await client.predictions.async_create(model="replicate-min/tokens", input={"prompt": "a"})
        stream = await prediction.async_stream()
        same = stream.__aiter__() is stream
        events = [event async for event in stream]
        await stream.aclose()
        return same and events[-1].event == "done"

    assert asyncio.run(main())


def test_a_stream_refused_for_its_arguments_leaves_nothing_on_stderr(client: Client, fake: FakeReplicate) -> None:
    import gc

    seen: List[Any] = []
    previous = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        prediction = client.predictions.create(model="replicate-min/echo", input={"prompt": "x"}, stream=True)
        with pytest.raises(ValueError, match="max_event_size"):
            prediction.stream(max_event_size=0)
        gc.collect()
    finally:
        sys.unraisablehook = previous
    assert seen == []
