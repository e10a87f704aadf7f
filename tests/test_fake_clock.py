"""The fake server on a ManualClock: the test decides when everything happens, and nothing sleeps.

Requests that block (``Prefer: wait``, a stream, ``latency``) are issued from a helper thread
while the test thread advances the clock; ``clock.wait_for_waiters`` tells the test when such
a request is parked on the clock, and every join is bounded.
"""

from __future__ import annotations

import ast
import http.client
import json
import queue
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple
from urllib.parse import urlsplit

import pytest

from replicate_min import testing
from replicate_min.testing import (
    TRANSITIONS,
    WAIT,
    Delay,
    ErrorStatus,
    FakeReplicate,
    ManualClock,
    Status,
    StreamDrop,
    SystemClock,
    Trigger,
)

JOIN = 10.0  # real seconds: only a safety net, never part of what a test measures

Response = Tuple[int, Dict[str, str], Any]


def call(
    fake: FakeReplicate, method: str, path: str, body: Any = None, headers: Optional[Dict[str, str]] = None
) -> Response:
    split = urlsplit(fake.base_url)
    connection = http.client.HTTPConnection(split.hostname or "", split.port, timeout=JOIN)
    try:
        data = None if body is None else json.dumps(body).encode()
        sent = {"Authorization": f"Bearer {fake.token}", "Content-Type": "application/json", **(headers or {})}
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        raw = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(raw) if raw else None
    finally:
        connection.close()


class InThread:
    """Runs ``function`` in a thread; ``result()`` joins it (bounded) and returns its value."""

    def __init__(self, function: Callable[[], Any]) -> None:
        self._value: List[Any] = []
        self._error: List[BaseException] = []

        def run() -> None:
            try:
                self._value.append(function())
            except BaseException as exc:  # handed to the test thread
                self._error.append(exc)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def result(self) -> Any:
        self._thread.join(JOIN)
        assert not self._thread.is_alive(), "the request did not finish"
        if self._error:
            raise self._error[0]
        return self._value[0]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> Iterator[FakeReplicate]:
    with FakeReplicate(clock=clock, start_delay=1, step=0.5, keepalive_interval=1000) as server:
        yield server


def create(fake: FakeReplicate, model: str, input: Dict[str, Any], **headers: str) -> Response:
    return call(fake, "POST", f"/v1/models/{model}/predictions", {"input": input}, headers)


def moment(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")


# -- the clocks ---------------------------------------------------------------------------


def test_a_manual_clock_moves_only_when_advanced() -> None:
    clock = ManualClock(start=10)
    assert clock.now() == 10
    assert clock.advance(2.5) == 12.5 == clock.now()
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_sleep_on_a_manual_clock_returns_when_the_clock_reaches_its_end(clock: ManualClock) -> None:
    sleeper = InThread(lambda: clock.sleep(3))
    clock.wait_for_waiters(1)
    clock.advance(2)
    assert sleeper.running
    clock.advance(1)
    sleeper.result()
    assert clock.now() == 3


def test_the_default_clock_is_real_time() -> None:
    fake = FakeReplicate()
    assert isinstance(fake.clock, SystemClock) and not fake.clock.frozen
    assert ManualClock.frozen


# -- the state machine ----------------------------------------------------------------------


def test_the_transition_table_names_every_status_change() -> None:
    assert TRANSITIONS[Status.STARTING, Trigger.START] == Status.PROCESSING
    assert TRANSITIONS[Status.STARTING, Trigger.DEADLINE] == Status.ABORTED
    assert TRANSITIONS[Status.PROCESSING, Trigger.DEADLINE] == Status.CANCELED
    assert {source for source, _ in TRANSITIONS} == {Status.STARTING, Status.PROCESSING}
    assert set(TRANSITIONS.values()) == set(Status) - {Status.STARTING}


def test_a_prediction_starts_emits_step_by_step_and_succeeds_on_the_clock(
    fake: FakeReplicate, clock: ManualClock
) -> None:
    status, _, body = create(fake, "replicate-min/tokens", {"prompt": "a b c"})
    assert status == 201 and body["status"] == "starting"
    prediction_id = body["id"]

    clock.advance(0.5)
    assert fake.prediction(prediction_id).status == "starting"
    clock.advance(0.5)  # t = 1: start_delay has passed
    snapshot = fake.prediction(prediction_id)
    assert snapshot.status == Status.PROCESSING and snapshot.started == 1 and snapshot.output == []

    expected: List[str] = []
    for word in ["a", " b", " c"]:
        clock.advance(0.25)
        assert fake.prediction(prediction_id).output == expected  # half a step: nothing new
        clock.advance(0.25)
        expected.append(word)
        _, _, got = call(fake, "GET", f"/v1/predictions/{prediction_id}")
        assert got["output"] == expected
    assert got["status"] == "succeeded"  # the last item ends the run
    assert got["metrics"] == {"predict_time": 1.5, "total_time": 2.5}
    assert (moment(got["completed_at"]) - moment(got["started_at"])).total_seconds() == pytest.approx(1.5, abs=1e-5)
    assert "3/3" in got["logs"]
    assert fake.prediction(prediction_id).completed == 2.5


def test_one_big_jump_gives_the_same_schedule_as_small_steps(fake: FakeReplicate, clock: ManualClock) -> None:
    _, _, body = create(fake, "replicate-min/tokens", {"prompt": "a b c d"})
    clock.advance(100)
    snapshot = fake.prediction(body["id"])
    assert snapshot.status == "succeeded" and snapshot.output == ["a", " b", " c", " d"]
    assert (snapshot.started, snapshot.completed) == (1, 3)
    assert [event for event, _ in snapshot.events] == ["output", "logs"] * 4 + ["done"]


def test_a_generator_model_is_pulled_on_the_clock(fake: FakeReplicate, clock: ManualClock) -> None:
    pulls: List[str] = []  # a pull happens right after the previous item is emitted

    def model(input: Dict[str, Any]) -> Iterator[Any]:
        pulls.append("x")
        yield "x"
        pulls.append("wait")
        yield WAIT
        pulls.append("y")
        yield "y"
        pulls.append("raise")
        raise ValueError("out of ideas")

    fake.add_model("test/gen", model)
    _, _, body = create(fake, "test/gen", {})
    clock.advance(1)
    assert fake.prediction(body["id"]).output == [] and pulls == ["x"]
    clock.advance(1)  # x emitted at 1.5, WAIT spent 1.5 to 2, y pulled at 2
    assert fake.prediction(body["id"]).output == ["x"] and pulls == ["x", "wait", "y"]
    clock.advance(0.5)
    snapshot = fake.prediction(body["id"])
    assert snapshot.status == "failed" and snapshot.error == "out of ideas" and snapshot.output == ["x", "y"]
    assert snapshot.completed == 2.5 and pulls == ["x", "wait", "y", "raise"]


def test_a_single_output_comes_one_step_after_the_start(fake: FakeReplicate, clock: ManualClock) -> None:
    _, _, body = create(fake, "replicate-min/echo", {"prompt": "hi"})
    clock.advance(1.25)
    assert fake.prediction(body["id"]).output is None
    clock.advance(0.25)
    snapshot = fake.prediction(body["id"])
    assert (snapshot.status, snapshot.output, snapshot.completed) == ("succeeded", "hi", 1.5)


def test_a_model_that_raises_fails_when_it_starts(fake: FakeReplicate, clock: ManualClock) -> None:
    _, _, body = create(fake, "replicate-min/fail", {})
    clock.advance(1)
    snapshot = fake.prediction(body["id"])
    assert snapshot.status == "failed" and "on purpose" in (snapshot.error or "")
    assert snapshot.metrics == {"predict_time": 0.0, "total_time": 1.0}


# -- Prefer: wait ----------------------------------------------------------------------------


def test_prefer_wait_returns_when_the_clock_reaches_completion(fake: FakeReplicate, clock: ManualClock) -> None:
    request = InThread(lambda: create(fake, "replicate-min/echo", {"prompt": "held"}, Prefer="wait=30"))
    clock.wait_for_waiters(1)
    assert [p.status for p in fake.predictions_created] == ["starting"]
    clock.advance(1)
    assert fake.predictions_created[0].status == "processing" and request.running
    clock.advance(0.5)
    status, headers, body = request.result()
    assert status == 201 and headers["preference-applied"] == "wait=30"
    assert body["status"] == "succeeded" and body["output"] == "held"
    assert clock.now() == 1.5


def test_prefer_wait_gives_up_at_its_limit_on_the_clock(fake: FakeReplicate, clock: ManualClock) -> None:
    request = InThread(lambda: create(fake, "replicate-min/forever", {}, Prefer="wait=5"))
    clock.wait_for_waiters(1)
    clock.advance(4.5)
    assert request.running
    clock.advance(0.5)
    status, _, body = request.result()
    assert status == 201 and body["status"] == "processing"


# -- streams ----------------------------------------------------------------------------------


def open_stream(fake: FakeReplicate, prediction_id: str) -> queue.Queue[Tuple[str, str]]:
    """Reads the stream in a thread; each (event, data) arrives on the queue, ("closed", "") last."""
    events: queue.Queue[Tuple[str, str]] = queue.Queue()
    split = urlsplit(fake.base_url)
    connection = http.client.HTTPConnection(split.hostname or "", split.port, timeout=JOIN)
    connection.request("GET", f"/v1/streams/{prediction_id}", headers={"Accept": "text/event-stream"})
    response = connection.getresponse()
    assert response.status == 200

    def read() -> None:
        event, data = "message", ""
        try:
            for raw in iter(response.readline, b""):
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[len("event: ") :]
                elif line.startswith("data: "):
                    data = line[len("data: ") :]
                elif line == "" and data:
                    events.put((event, data))
                    event, data = "message", ""
        finally:
            events.put(("closed", ""))
            connection.close()

    threading.Thread(target=read, daemon=True).start()
    return events


def test_stream_events_arrive_as_the_test_advances_time(fake: FakeReplicate, clock: ManualClock) -> None:
    _, _, body = create(fake, "replicate-min/tokens", {"prompt": "a b"})
    events = open_stream(fake, body["id"])
    clock.wait_for_waiters(1)  # the stream handler waits on the clock: nothing is due yet
    assert events.empty()
    clock.advance(1.5)  # started at 1, first item at 1.5
    assert events.get(timeout=JOIN) == ("output", "a")
    assert events.get(timeout=JOIN)[0] == "logs"
    clock.wait_for_waiters(1)
    assert events.empty()  # the next item is due at 2
    clock.advance(0.5)
    assert events.get(timeout=JOIN) == ("output", " b")
    assert events.get(timeout=JOIN)[0] == "logs"
    assert events.get(timeout=JOIN) == ("done", "{}")
    assert events.get(timeout=JOIN) == ("closed", "")


def test_keep_alives_come_on_the_clock(clock: ManualClock) -> None:
    with FakeReplicate(clock=clock, start_delay=1, step=0.5, keepalive_interval=10) as fake:
        _, _, body = create(fake, "replicate-min/forever", {})
        split = urlsplit(fake.base_url)
        connection = http.client.HTTPConnection(split.hostname or "", split.port, timeout=JOIN)
        connection.request("GET", f"/v1/streams/{body['id']}")
        response = connection.getresponse()
        clock.wait_for_waiters(1)
        clock.advance(10)
        assert response.readline() == b": keep-alive\n"
        connection.close()


# -- cancel and deadlines ------------------------------------------------------------------------


def test_cancel_ends_a_prediction_at_the_clock_time(fake: FakeReplicate, clock: ManualClock) -> None:
    _, _, body = create(fake, "replicate-min/forever", {})
    clock.advance(3)
    status, _, canceled = call(fake, "POST", f"/v1/predictions/{body['id']}/cancel")
    assert status == 200 and canceled["status"] == "canceled"
    assert canceled["metrics"] == {"predict_time": 2.0, "total_time": 3.0}
    clock.advance(100)
    snapshot = fake.prediction(body["id"])
    assert snapshot.status == "canceled" and snapshot.completed == 3
    assert [event for event, _ in snapshot.events] == ["done"]


def test_cancel_before_the_start_never_runs_the_model(fake: FakeReplicate, clock: ManualClock) -> None:
    runs: List[Dict[str, Any]] = []
    fake.add_model("test/counted", runs.append)
    _, _, body = create(fake, "test/counted", {})
    assert fake.cancel(body["id"]).status == "canceled"
    clock.advance(10)
    assert runs == [] and fake.prediction(body["id"]).started is None


def test_cancel_after_aborts_a_prediction_still_starting(clock: ManualClock) -> None:
    with FakeReplicate(clock=clock, start_delay=60) as fake:
        _, _, body = create(fake, "replicate-min/echo", {}, **{"Cancel-After": "5s"})
        clock.advance(4.5)
        assert fake.prediction(body["id"]).status == "starting"
        clock.advance(0.5)
        snapshot = fake.prediction(body["id"])
        assert snapshot.status == "aborted" and snapshot.completed == 5


def test_cancel_after_cancels_a_running_prediction(fake: FakeReplicate, clock: ManualClock) -> None:
    _, _, body = create(fake, "replicate-min/forever", {}, **{"Cancel-After": "1m"})
    clock.advance(59)
    assert fake.prediction(body["id"]).status == "processing"
    clock.advance(1)
    assert fake.prediction(body["id"]).status == "canceled"


# -- latency and faults on the clock --------------------------------------------------------------


def test_latency_delays_each_response_by_that_much_clock_time(clock: ManualClock) -> None:
    with FakeReplicate(clock=clock, latency=0.25) as fake:
        request = InThread(lambda: call(fake, "GET", "/v1/predictions"))
        clock.wait_for_waiters(1)
        clock.advance(0.125)
        assert request.running
        clock.advance(0.125)
        status, _, body = request.result()
        assert status == 200 and body["results"] == []
        assert [r.time for r in fake.requests] == [0.0]


def test_latency_delays_concurrent_requests_at_the_same_time(clock: ManualClock) -> None:
    with FakeReplicate(clock=clock, latency=0.25) as fake:
        requests = [InThread(lambda: call(fake, "GET", "/v1/predictions")) for _ in range(3)]
        clock.wait_for_waiters(3)
        clock.advance(0.25)  # one quarter second answers all three: the delays overlap
        assert [r.result()[0] for r in requests] == [200, 200, 200]


def test_an_injected_delay_is_on_the_clock(fake: FakeReplicate, clock: ManualClock) -> None:
    fake.inject(Delay(seconds=30, path="/v1/predictions"))
    assert fake.pending_faults == [Delay(seconds=30, path="/v1/predictions")]
    request = InThread(lambda: call(fake, "GET", "/v1/predictions"))
    clock.wait_for_waiters(1)
    clock.advance(29)
    assert request.running
    clock.advance(1)
    assert request.result()[0] == 200
    assert fake.pending_faults == []


def test_typed_faults_and_the_string_api_are_the_same_faults(fake: FakeReplicate) -> None:
    fake.fail_next("status", status=503, times=2, path="/v1/predictions")
    fake.stream_fault("drop", after=3)
    assert fake.pending_faults == [ErrorStatus(status=503, times=2, path="/v1/predictions"), StreamDrop(after=3)]
    assert call(fake, "GET", "/v1/predictions")[0] == 503
    assert fake.pending_faults[0] == ErrorStatus(status=503, times=1, path="/v1/predictions")
    with pytest.raises(ValueError, match="unknown fault kind"):
        fake.fail_next("gremlins")
    with pytest.raises(ValueError, match="unknown stream fault"):
        fake.stream_fault("gremlins")


# -- the package ----------------------------------------------------------------------------------


def test_the_testing_package_exports_what_it_lists() -> None:
    assert len(testing.__all__) == len(set(testing.__all__))
    for name in testing.__all__:
        assert hasattr(testing, name), name


def test_importing_the_client_does_not_import_the_fake() -> None:
    code = "import sys, replicate_min; assert not any(m.startswith('replicate_min.testing') for m in sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


def test_the_testing_package_imports_relatively_and_only_the_standard_library() -> None:
    package = Path(testing.__file__).parent
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                top = (node.module or "").split(".")[0]
            elif isinstance(node, ast.Import):
                top = node.names[0].name.split(".")[0]
            else:
                continue
            assert top != "replicate_min", f"{source.name}:{node.lineno}"
            if sys.version_info >= (3, 10):
                assert top in sys.stdlib_module_names or top == "__future__", f"{source.name}:{node.lineno}"


def test_latency_on_real_time_is_a_real_delay() -> None:
    import time

    with FakeReplicate(latency=0.1) as fake:
        started = time.monotonic()
        assert call(fake, "GET", "/v1/predictions")[0] == 200
        assert time.monotonic() - started >= 0.1


def test_concurrent_requests_wait_out_their_latency_together(clock: ManualClock) -> None:
    # Twenty requests, each delayed 0.3 s of the fake's clock: all twenty park on the clock at
    # once (a fake that served them one after another would park one), and one advance answers all.
    with FakeReplicate(clock=clock, latency=0.3) as fake:
        requests = [InThread(lambda: call(fake, "GET", "/v1/predictions")) for _ in range(20)]
        clock.wait_for_waiters(20, timeout=60)  # a safety net only
        clock.advance(0.3)
        assert [r.result()[0] for r in requests] == [200] * 20


def test_an_endless_generator_with_no_step_does_not_hang_a_reader(clock: ManualClock) -> None:
    with FakeReplicate(clock=clock, start_delay=0, step=0) as fake:
        _, _, body = create(fake, "replicate-min/forever", {})
        assert fake.prediction(body["id"]).status == "processing"  # a bounded number of pulls, then an answer
        assert fake.cancel(body["id"]).status == "canceled"


def test_latency_then_a_wait_hold_each_park_on_the_clock_in_turn(clock: ManualClock) -> None:
    with FakeReplicate(clock=clock, start_delay=1, step=0.5, latency=0.25) as fake:
        request = InThread(lambda: create(fake, "replicate-min/tokens", {"prompt": "a b"}, Prefer="wait"))
        clock.wait_for_waiters(1)  # in the latency
        clock.advance(0.25)
        clock.wait_for_waiters(1)  # in the hold: the waiter the advance woke does not count twice
        assert [p.created for p in fake.predictions_created] == [0.25]
        clock.advance(10)
        status, _, body = request.result()
        assert status == 201 and body["status"] == "succeeded" and body["output"] == ["a", " b"]
        assert body["metrics"] == {"predict_time": 1.0, "total_time": 2.0}
