"""The worker threads of the async twins: the mechanism, proven without timing assertions.

The fake runs on a ManualClock with ``latency=1.0``: every request is recorded when it
arrives, then parks on the clock until the test advances it. ``clock.wait_for_waiters(n)``
says n requests are parked (each holds one of the client's workers and one connection),
so the test can count what is in flight at once. The event loop runs in a helper thread;
every wait is bounded (``JOIN`` real seconds) as a safety net only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any, Callable, Coroutine, Iterator, List, Optional, TypeVar

import pytest

import replicate_min
from replicate_min._workers import Workers
from replicate_min.exceptions import ReplicateError
from replicate_min.testing import FakeReplicate, ManualClock

ROOT = Path(__file__).resolve().parent.parent
JOIN = 30.0  # real seconds: a safety net, never part of what a test checks
K = 5  # the clients' max_concurrency
MODEL = "replicate-min/echo"

T = TypeVar("T")


class LoopThread:
    """An event loop running in a thread of its own, so the test thread can move the clock."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)
        self._thread.start()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.submit(coroutine).result(JOIN)

    def spawn(self, coroutines: List[Coroutine[Any, Any, T]]) -> List[asyncio.Task[T]]:
        """Tasks on the loop for ``coroutines``, started (they run once the loop gets to them)."""

        async def spawn() -> List[asyncio.Task[T]]:
            return [asyncio.ensure_future(coroutine) for coroutine in coroutines]

        return self.run(spawn())

    def results(self, tasks: List[asyncio.Task[T]]) -> List[T]:
        async def gather() -> List[T]:
            return list(await asyncio.gather(*tasks))

        return self.run(gather())

    def cancel(self, tasks: List[asyncio.Task[Any]]) -> None:
        """Cancels ``tasks`` on the loop and returns once they have all ended."""

        async def cancel() -> None:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(cancel())

    def close(self) -> None:
        async def cancel_the_rest() -> None:
            tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.submit(cancel_the_rest()).result(JOIN)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(JOIN)
            assert not self._thread.is_alive(), "the event loop did not stop"
            self.loop.close()


def eventually(condition: Callable[[], bool], what: str) -> None:
    """Waits (bounded) until ``condition()`` holds: for state another thread is about to reach."""
    limit = time.monotonic() + JOIN
    while not condition():
        assert time.monotonic() < limit, f"never happened: {what}"
        time.sleep(0.005)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def slow_fake(clock: ManualClock) -> Iterator[FakeReplicate]:
    """Every request waits one second of the manual clock (predictions never finish by themselves)."""
    with FakeReplicate(clock=clock, latency=1.0, start_delay=1000, step=1000) as server:
        yield server


@pytest.fixture
def bounded(slow_fake: FakeReplicate) -> Iterator[replicate_min.Client]:
    with replicate_min.Client(
        api_token=slow_fake.token, base_url=slow_fake.base_url, max_concurrency=K, max_retries=0
    ) as client:
        yield client


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    runner = LoopThread()
    try:
        yield runner
    finally:
        runner.close()


def workers_of(client: replicate_min.Client) -> Workers:
    return client.requester.workers


def start_creates(loop: LoopThread, client: replicate_min.Client, count: int) -> List[asyncio.Task[Any]]:
    return loop.spawn([client.predictions.async_create(model=MODEL, input={"prompt": str(i)}) for i in range(count)])


# -- at most max_concurrency in flight, and all of them at once ------------------------------------


def test_k_calls_are_in_flight_at_once_and_never_more(
    slow_fake: FakeReplicate, clock: ManualClock, bounded: replicate_min.Client, loop: LoopThread
) -> None:
    workers = workers_of(bounded)
    calls = start_creates(loop, bounded, 3 * K)
    for wave in range(1, 4):
        clock.wait_for_waiters(K, timeout=JOIN)  # K requests parked on the server at once...
        time.sleep(0.05)  # ...and a (K+1)-th, if the client let one through, would have time to arrive
        assert len(slow_fake.requests) == wave * K  # recorded on arrival, before the latency
        assert clock.waiters == K
        assert workers.busy == K
        assert workers.threads == K
        ended = (wave - 1) * K
        eventually(lambda: sum(call.done() for call in calls) == ended, "the earlier waves' tasks end")  # noqa: B023
        clock.advance(1.0)  # this wave is answered; the next K calls go out
    ids = {prediction.id for prediction in loop.results(calls)}
    assert len(ids) == 3 * K
    assert slow_fake.creates == 3 * K
    assert slow_fake.connections <= K  # one connection per slot, reused by the next waves
    eventually(lambda: workers.busy == 0, "the workers are idle again")
    assert workers.threads <= K


def test_cancelled_calls_free_their_workers_and_connections(
    slow_fake: FakeReplicate, clock: ManualClock, bounded: replicate_min.Client, loop: LoopThread
) -> None:
    workers = workers_of(bounded)
    calls = start_creates(loop, bounded, 3 * K)
    clock.wait_for_waiters(K, timeout=JOIN)
    assert workers.busy == K
    loop.cancel(calls)  # K in flight, 2K queued
    assert all(call.cancelled() for call in calls)
    assert workers.busy == K  # a request already sent runs to its end on its worker...
    clock.advance(1.0)
    eventually(lambda: workers.busy == 0, "the workers are free")  # ...and then frees it
    assert len(slow_fake.requests) == K  # the queued calls were never sent

    # No worker and no pool slot leaked: K further calls are all in flight at once again.
    more = start_creates(loop, bounded, K)
    clock.wait_for_waiters(K, timeout=JOIN)
    assert workers.busy == K
    assert len(slow_fake.requests) == 2 * K
    clock.advance(1.0)
    assert all(prediction.status == "starting" for prediction in loop.results(more))
    assert slow_fake.connections <= K
    eventually(lambda: workers.busy == 0, "the workers are idle again")


def test_a_call_queued_behind_busy_workers_is_sent_once_one_frees(
    slow_fake: FakeReplicate, clock: ManualClock, bounded: replicate_min.Client, loop: LoopThread
) -> None:
    first = start_creates(loop, bounded, K)
    clock.wait_for_waiters(K, timeout=JOIN)
    late = loop.submit(bounded.predictions.async_get("p1"))
    time.sleep(0.05)
    assert len(slow_fake.requests) == K and not late.done()  # waits for a worker, not for the loop
    clock.advance(1.0)
    loop.results(first)
    clock.wait_for_waiters(1, timeout=JOIN)
    assert slow_fake.requests[-1].method == "GET"
    clock.advance(1.0)
    with pytest.raises(ReplicateError):  # the fake has no prediction p1: a 404
        late.result(JOIN)


# -- the threads, the loop's executor, the context -------------------------------------------------


def test_worker_threads_are_daemon_threads_named_for_the_client(client: replicate_min.Client) -> None:
    async def main() -> None:
        await asyncio.gather(*(client.predictions.async_create(model=MODEL, input={"prompt": "x"}) for _ in range(3)))

    asyncio.run(main())
    workers = [thread for thread in threading.enumerate() if thread.name.startswith("replicate-min-")]
    assert workers
    assert all(thread.daemon for thread in workers)


def test_asyncio_run_returns_while_a_call_is_still_in_flight() -> None:
    script = f"""
        import asyncio, sys
        sys.path.insert(0, {str(ROOT)!r})
        import replicate_min
        from replicate_min.testing import FakeReplicate, ManualClock

        clock = ManualClock()
        fake = FakeReplicate(clock=clock, latency=1.0).start()  # never advanced: the call never ends
        client = replicate_min.Client(api_token=fake.token, base_url=fake.base_url, read_timeout=None)

        async def main():
            asyncio.ensure_future(client.predictions.async_create(model={MODEL!r}, input={{}}))
            await asyncio.sleep(0)
            clock.wait_for_waiters(1, timeout=30)  # the request is parked on the server

        asyncio.run(main())
        print("returned", client.requester.workers.busy, flush=True)
    """
    try:
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=JOIN
        )
    except subprocess.TimeoutExpired:
        pytest.fail("asyncio.run() or the interpreter's exit waited for a call in flight")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["returned", "1"]  # still in flight when the process exited


def test_one_client_serves_several_event_loops(client: replicate_min.Client) -> None:
    async def create_and_wait() -> replicate_min.Prediction:
        prediction = await client.predictions.async_create(model=MODEL, input={"prompt": "again"})
        await prediction.async_wait()
        return prediction

    for _ in range(3):
        prediction = asyncio.run(create_and_wait())
        assert prediction.status == "succeeded"
        assert prediction.output == "again"
        assert asyncio.run(client.predictions.async_get(prediction.id)).id == prediction.id


class RefusingExecutor(concurrent.futures.ThreadPoolExecutor):
    """A default executor (asyncio wants a ThreadPoolExecutor) that records and refuses every submission."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.submitted: List[Any] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        self.submitted.append(fn)
        raise AssertionError("the loop's default executor was used")


def test_the_loops_default_executor_is_never_used(client: replicate_min.Client) -> None:
    refusing = RefusingExecutor()

    async def main() -> replicate_min.Prediction:
        asyncio.get_running_loop().set_default_executor(refusing)
        predictions = await asyncio.gather(
            *(client.predictions.async_create(model=MODEL, input={"prompt": str(i)}) for i in range(4))
        )
        await asyncio.gather(*(prediction.async_wait() for prediction in predictions))
        await asyncio.gather(*(prediction.async_reload() for prediction in predictions))
        return await client.predictions.async_get(predictions[0].id)

    prediction = asyncio.run(main())
    assert prediction.status == "succeeded"
    assert refusing.submitted == []


REQUEST_ID: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("REQUEST_ID", default=None)


def test_the_callers_context_is_copied_into_the_worker(client: replicate_min.Client) -> None:
    def inside() -> tuple[Optional[str], str]:
        seen = REQUEST_ID.get()
        REQUEST_ID.set("changed in the worker")  # a copy: never seen by the caller
        return seen, threading.current_thread().name

    async def main() -> tuple[Optional[str], str, Optional[str]]:
        REQUEST_ID.set("request-42")
        seen, thread = await client.requester.run_async(inside)
        return seen, thread, REQUEST_ID.get()

    seen, thread, after = asyncio.run(main())
    assert seen == "request-42"
    assert thread.startswith("replicate-min-")
    assert after == "request-42"
    assert REQUEST_ID.get() is None


def test_the_context_reaches_the_request_itself(
    fake: FakeReplicate, client: replicate_min.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: List[Optional[str]] = []
    send = client.requester.send

    def spying_send(*args: Any, **kwargs: Any) -> Any:
        seen.append(REQUEST_ID.get())
        return send(*args, **kwargs)

    monkeypatch.setattr(client.requester, "send", spying_send)

    async def call(number: int) -> None:
        REQUEST_ID.set(f"call-{number}")
        await client.predictions.async_create(model=MODEL, input={"prompt": "x"})

    async def main() -> None:
        await asyncio.gather(*(call(number) for number in range(6)))

    asyncio.run(main())
    assert sorted(s for s in seen if s is not None) == [f"call-{n}" for n in range(6)]
