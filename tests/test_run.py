"""run() and stream(): references, finishing semantics, deadlines, the module-level functions."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Iterator

import pytest

import replicate_min
from replicate_min import (
    Client,
    ModelError,
    PredictionCanceledError,
    WaitTimeoutError,
)
from replicate_min._create import parse_ref
from replicate_min.testing import WAIT, FakeReplicate, ManualClock

VERSION = "a" * 64


@pytest.mark.parametrize(
    ("ref", "target"),
    [
        ("owner/name", {"model": "owner/name"}),
        ("owner/name.v2_x-y", {"model": "owner/name.v2_x-y"}),
        (f"owner/name:{VERSION}", {"version": VERSION}),
        (VERSION, {"version": VERSION}),
        (f"owner/name:{VERSION.upper()}", {"version": VERSION}),  # upper-case hex is lower-cased
        (VERSION.upper(), {"version": VERSION}),
    ],
)
def test_refs(ref: str, target: dict[str, str]) -> None:
    assert parse_ref(ref) == target


@pytest.mark.parametrize("ref", ["name", "owner/name:abc", "a/b/c", "owner/name:" + "g" * 64, "A" * 63, "", "/x"])
def test_bad_refs(ref: str) -> None:
    with pytest.raises(ValueError, match="owner/name"):
        parse_ref(ref)
    with pytest.raises(TypeError):
        parse_ref(5)


def test_run_by_model_returns_the_output_with_one_request(client: Client, fake: FakeReplicate) -> None:
    assert client.run("replicate-min/echo", {"prompt": "hi"}) == "hi"
    [request] = fake.requests
    assert request.path == "/v1/models/replicate-min/echo/predictions" and request.headers["prefer"] == "wait"


def test_run_by_version_never_looks_the_version_up(client: Client, fake: FakeReplicate) -> None:
    version = fake.version_of("replicate-min/echo")
    assert client.run(f"replicate-min/echo:{version}", {"prompt": "a"}) == "a"
    assert client.run(version, {"prompt": "b"}) == "b"
    assert [(r.method, r.path) for r in fake.requests] == [("POST", "/v1/predictions")] * 2
    assert [r.json()["version"] for r in fake.requests] == [version, version]


def test_a_wait_answer_still_processing_is_polled_to_the_end() -> None:
    def slow(input: Any) -> Iterator[Any]:
        yield "partial"
        yield from [WAIT] * 4  # " done" comes after the 1 s hold has ended
        yield " done"

    clock = ManualClock()
    with FakeReplicate(clock=clock, start_delay=0.1, step=0.2) as fake:
        fake.add_model("test/slow", slow)
        with Client(api_token=fake.token, base_url=fake.base_url, poll_interval=0.01) as client:
            result: list[Any] = []
            runner = threading.Thread(target=lambda: result.append(client.run("test/slow", wait=1)), daemon=True)
            runner.start()
            try:
                clock.wait_for_waiters(1, timeout=60)  # the create is held
                clock.advance(1)  # the hold ends: "processing", with "partial"
                end = time.monotonic() + 60  # a safety net: the wait is for the client's first poll
                while not any(r.method == "GET" for r in fake.requests):
                    assert time.monotonic() < end and runner.is_alive()
                    time.sleep(0.005)
                assert runner.is_alive()  # still polling: the output is not complete
                clock.advance(10)
            finally:
                runner.join(60)
        assert result == [["partial", " done"]]
        methods = [r.method for r in fake.requests]
        assert methods[0] == "POST" and "GET" in methods


def test_run_without_wait_polls(client: Client, fake: FakeReplicate) -> None:
    assert client.run("replicate-min/tokens", {"prompt": "a b"}, wait=False) == ["a", " b"]
    assert "prefer" not in fake.requests[0].headers


def test_run_raises_model_error_on_failure(client: Client) -> None:
    with pytest.raises(ModelError) as info:
        client.run("replicate-min/fail")
    assert info.value.prediction.status == "failed" and "on purpose" in str(info.value)


@pytest.mark.parametrize("status", ["canceled", "aborted"])
def test_run_raises_a_clear_error_when_canceled_or_aborted(client: Client, fake: FakeReplicate, status: str) -> None:
    def finish_later() -> None:
        time.sleep(0.2)
        [record] = fake.predictions_created
        fake.update(record.id, status=status)

    import threading

    threading.Thread(target=finish_later).start()
    with pytest.raises(PredictionCanceledError, match=status):
        client.run("replicate-min/forever", wait=False)


def test_run_timeout_is_an_overall_deadline(client: Client, fake: FakeReplicate) -> None:
    # The model never ends: only the deadline ends the call.
    with pytest.raises(WaitTimeoutError):
        client.run("replicate-min/forever", timeout=1.2)
    assert fake.requests[0].headers["prefer"] == "wait=1"  # the hold fits inside the deadline


def test_run_passes_every_create_parameter(client: Client, fake: FakeReplicate) -> None:
    client.run("replicate-min/echo", {"prompt": "x"}, webhook="https://example.com/h", cancel_after="1m", wait=5)
    request = fake.requests[0]
    assert request.json()["webhook"] == "https://example.com/h"
    assert request.headers["cancel-after"] == "1m" and request.headers["prefer"] == "wait=5"


def test_async_run(client: Client) -> None:
    async def main() -> list[Any]:
        return await asyncio.gather(*(client.async_run("replicate-min/echo", {"prompt": str(i)}) for i in range(4)))

    assert asyncio.run(main()) == ["0", "1", "2", "3"]


def test_client_stream_and_async_stream(client: Client) -> None:
    assert "".join(str(e) for e in client.stream("replicate-min/tokens", {"prompt": "x y"})) == "x y"

    async def main() -> str:
        return "".join([str(e) async for e in client.async_stream("replicate-min/tokens", {"prompt": "p q"})])

    assert asyncio.run(main()) == "p q"


def test_module_level_functions_use_the_default_client(fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICATE_API_TOKEN", fake.token)
    monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)
    monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "0.01")
    assert replicate_min.run("replicate-min/echo", input={"prompt": "m"}) == "m"
    assert "".join(str(e) for e in replicate_min.stream("replicate-min/tokens", input={"prompt": "s"})) == "s"

    async def main() -> tuple[Any, str]:
        output = await replicate_min.async_run("replicate-min/echo", input={"prompt": "am"})
        streamed = "".join(
            [str(e) async for e in replicate_min.async_stream("replicate-min/tokens", input={"prompt": "as"})]
        )
        return output, streamed

    assert asyncio.run(main()) == ("am", "as")


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
