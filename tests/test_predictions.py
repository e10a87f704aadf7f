"""Predictions: create (three endpoints), get, list, cancel, sync and async; every parameter."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import replicate_min
from replicate_min import Client, Page, Prediction, ReplicateError
from replicate_min.testing import FakeReplicate, ManualClock

ECHO = "replicate-min/echo"


def test_create_by_version_id_positionally(client: Client, fake: FakeReplicate) -> None:
    version = fake.version_of(ECHO)
    prediction = client.predictions.create(version, {"prompt": "hi"})
    request = fake.requests[-1]
    assert (request.method, request.path) == ("POST", "/v1/predictions")
    assert request.json() == {"version": version, "input": {"prompt": "hi"}}
    assert isinstance(prediction, Prediction) and prediction.version == version
    assert prediction.urls is not None and set(prediction.urls) == {"get", "cancel", "stream", "web"}


@pytest.mark.parametrize("form", ["owner/name:version", "owner/name"])
def test_create_by_version_accepts_the_documented_forms(client: Client, fake: FakeReplicate, form: str) -> None:
    version = f"{ECHO}:{fake.version_of(ECHO)}" if form == "owner/name:version" else ECHO
    prediction = client.predictions.create(version=version, input={"prompt": "x"})
    assert fake.requests[-1].json()["version"] == version
    assert prediction.model == ECHO


def test_create_by_model_posts_to_the_models_endpoint_without_version(client: Client, fake: FakeReplicate) -> None:
    prediction = client.predictions.create(model=ECHO, input={"prompt": "x"})
    request = fake.requests[-1]
    assert request.path == f"/v1/models/{ECHO}/predictions"
    assert "version" not in request.json()
    assert prediction.version == "hidden"


def test_create_by_deployment(client: Client, fake: FakeReplicate) -> None:
    prediction = client.predictions.create(deployment="replicate-min/echo-deployment", input={"prompt": "x"})
    assert fake.requests[-1].path == "/v1/deployments/replicate-min/echo-deployment/predictions"
    assert prediction.deployment == "replicate-min/echo-deployment"
    prediction.wait()
    assert prediction.output == "x"


TARGETS = [{"version": ECHO}, {"model": ECHO}, {"deployment": "replicate-min/echo-deployment"}]


@pytest.mark.parametrize("target", TARGETS, ids=["version", "model", "deployment"])
def test_optional_fields_are_sent_only_when_given(client: Client, fake: FakeReplicate, target: Any) -> None:
    client.predictions.create(
        input={"prompt": "x"},
        webhook="https://example.com/hook",
        webhook_completed="https://example.com/done",
        webhook_events_filter=["start", "completed"],
        stream=True,
        file_encoding_strategy="base64",
        **target,
    )
    assert fake.requests[-1].json() == {
        **({"version": ECHO} if "version" in target else {}),
        "input": {"prompt": "x"},
        "webhook": "https://example.com/hook",
        "webhook_completed": "https://example.com/done",
        "webhook_events_filter": ["start", "completed"],
        "stream": True,
    }
    client.predictions.create(model=ECHO)
    assert fake.requests[-1].json() == {"input": {}}
    assert "prefer" not in fake.requests[-1].headers and "cancel-after" not in fake.requests[-1].headers


@pytest.mark.parametrize(("wait", "header"), [(True, "wait"), (5, "wait=5"), (60, "wait=60"), (1, "wait=1")])
def test_wait_sends_prefer(client: Client, fake: FakeReplicate, wait: Any, header: str) -> None:
    prediction = client.predictions.create(model=ECHO, input={"prompt": "x"}, wait=wait)
    assert fake.requests[-1].headers["prefer"] == header
    assert prediction.status == "succeeded" and prediction.output == "x"


@pytest.mark.parametrize(
    "target", [{"version": ECHO}, {"model": ECHO}, {"deployment": "replicate-min/echo-deployment"}]
)
def test_wait_and_cancel_after_work_on_every_endpoint(client: Client, fake: FakeReplicate, target: Any) -> None:
    prediction = client.predictions.create(input={"prompt": "x"}, wait=10, cancel_after="1h30m", **target)
    headers = fake.requests[-1].headers
    assert headers["prefer"] == "wait=10" and headers["cancel-after"] == "1h30m"
    assert prediction.done and prediction.deadline is not None


def test_the_read_timeout_grows_to_fit_the_wait(fake: FakeReplicate) -> None:
    def slow(input: dict[str, Any]) -> str:
        time.sleep(0.35)  # longer than the 0.2 s read timeout
        return "slow"

    fake.add_model("test/slow", slow)
    client = Client(api_token=fake.token, base_url=fake.base_url, read_timeout=0.2, max_retries=0)
    prediction = client.predictions.create(model="test/slow", input={}, wait=5)
    assert prediction.output == "slow"
    fake.fail_next("delay", seconds=1.0)  # without a wait, the client's own 0.2 s applies
    with pytest.raises(replicate_min.APITimeoutError):
        client.predictions.list()
    client.close()


@pytest.mark.parametrize(
    ("value", "sent"), [("90s", "90s"), ("5m", "5m"), ("1h30m45s", "1h30m45s"), (30, "30s"), ("45", "45")]
)
def test_cancel_after_sends_the_header(client: Client, fake: FakeReplicate, value: Any, sent: str) -> None:
    client.predictions.create(model=ECHO, input={}, cancel_after=value)
    assert fake.requests[-1].headers["cancel-after"] == sent


def test_a_prediction_past_its_deadline_is_aborted_or_canceled(fake: FakeReplicate) -> None:
    clock = ManualClock()
    slow_start = FakeReplicate(start_delay=7, step=0.01, clock=clock).start()
    try:
        client = Client(api_token=slow_start.token, base_url=slow_start.base_url, poll_interval=0)
        prediction = client.predictions.create(model=ECHO, input={}, cancel_after=5)
        clock.advance(4.9)
        prediction.reload()
        assert prediction.status == "starting"
        clock.advance(0.2)  # past the 5 s deadline, before the 7 s start
        prediction.wait(timeout=10)
        assert prediction.status == "aborted"
    finally:
        slow_start.stop()


def test_get_list_cancel(client: Client, fake: FakeReplicate) -> None:
    created = [client.predictions.create(model=ECHO, input={"prompt": str(i)}) for i in range(3)]
    fetched = client.predictions.get(created[0].id)
    assert fetched.id == created[0].id and fetched.input == {"prompt": "0"}
    page = client.predictions.list()
    assert isinstance(page, Page) and [p.id for p in page] == [p.id for p in reversed(created)]
    assert len(page) == 3 and page.next is None and page.previous is None
    endless = client.predictions.create(model="replicate-min/forever", input={})
    canceled = client.predictions.cancel(endless.id)
    assert canceled.status == "canceled"
    assert fake.requests[-1].path == f"/v1/predictions/{endless.id}/cancel"


def test_list_follows_full_url_cursors_newest_first(fake: FakeReplicate) -> None:
    fake.page_size = 3
    client = Client(api_token=fake.token, base_url=fake.base_url)
    ids = [client.predictions.create(model=ECHO, input={}).id for _ in range(7)]
    first = client.predictions.list()
    assert [p.id for p in first] == ids[::-1][:3]
    assert first.next is not None and first.next.startswith(fake.base_url + "/v1/predictions?cursor=")
    second = client.predictions.list(cursor=first.next)
    assert [p.id for p in second] == ids[::-1][3:6] and second.previous is not None
    assert [p.id for p in client.predictions.list(cursor=second.previous)] == [p.id for p in first]
    pages = list(replicate_min.paginate(client.predictions.list))
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [p.id for page in pages for p in page] == ids[::-1]

    async def collect() -> list[str]:
        return [p.id async for page in replicate_min.async_paginate(client.predictions.async_list) for p in page]

    assert asyncio.run(collect()) == ids[::-1]
    client.close()


def test_list_refuses_none_and_non_url_cursors(client: Client) -> None:
    with pytest.raises(ValueError, match="cursor"):
        client.predictions.list(None)
    with pytest.raises(TypeError, match="cursor"):
        client.predictions.list(cursor=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cursor"):
        client.predictions.list(cursor="abc")


def test_async_twins(client: Client, fake: FakeReplicate) -> None:
    async def main() -> list[Any]:
        created = await client.predictions.async_create(fake.version_of(ECHO), {"prompt": "a"})
        by_model = await client.predictions.async_create(model=ECHO, input={"prompt": "b"}, wait=True)
        got = await client.predictions.async_get(created.id)
        page = await client.predictions.async_list()
        endless = await client.predictions.async_create(model="replicate-min/forever", input={})
        canceled = await client.predictions.async_cancel(endless.id)
        return [got.id == created.id, by_model.output, len(page.results), canceled.status]

    assert asyncio.run(main()) == [True, "b", 2, "canceled"]


def test_one_client_survives_repeated_event_loops(client: Client) -> None:
    for _ in range(3):
        assert asyncio.run(client.predictions.async_list()).results == []


def test_api_errors_for_unknown_things(client: Client) -> None:
    for call in (
        lambda: client.predictions.create(version="0" * 64, input={}),
        lambda: client.predictions.create(model="nobody/nothing", input={}),
        lambda: client.predictions.get("does-not-exist"),
        lambda: client.predictions.cancel("does-not-exist"),
    ):
        with pytest.raises(ReplicateError) as info:
            call()
        assert info.value.status in (404, 422) and info.value.detail


@pytest.mark.parametrize(
    ("kwargs", "error", "word"),
    [
        ({}, ValueError, "Exactly one"),
        ({"version": "v", "model": ECHO}, ValueError, "Exactly one"),
        ({"model": ECHO, "deployment": ECHO}, ValueError, "Exactly one"),
        ({"version": 5}, TypeError, "version"),
        ({"version": ""}, TypeError, "version"),
        ({"model": "no-slash"}, ValueError, "model"),
        ({"model": "o/n:abc"}, ValueError, "version="),
        ({"model": 7}, TypeError, "model"),
        ({"deployment": "a/b/c"}, ValueError, "deployment"),
        ({"model": ECHO, "input": ["x"]}, TypeError, "input"),
        ({"model": ECHO, "input": {"x": object()}}, TypeError, "JSON"),
        ({"model": ECHO, "input": {"x": float("nan")}}, TypeError, "JSON"),
        ({"model": ECHO, "webhook": "ftp://x"}, ValueError, "webhook"),
        ({"model": ECHO, "webhook": 5}, ValueError, "webhook"),
        ({"model": ECHO, "webhook_completed": "nope"}, ValueError, "webhook_completed"),
        ({"model": ECHO, "webhook_events_filter": "completed"}, TypeError, "webhook_events_filter"),
        ({"model": ECHO, "webhook_events_filter": ["finished"]}, ValueError, "webhook_events_filter"),
        ({"model": ECHO, "stream": "yes"}, TypeError, "stream"),
        ({"model": ECHO, "wait": 0}, ValueError, "wait"),
        ({"model": ECHO, "wait": 61}, ValueError, "wait"),
        ({"model": ECHO, "wait": 2.5}, TypeError, "wait"),
        ({"model": ECHO, "wait": "5"}, TypeError, "wait"),
        ({"model": ECHO, "cancel_after": "4s"}, ValueError, "at least 5"),
        ({"model": ECHO, "cancel_after": 4}, ValueError, "at least 5"),
        ({"model": ECHO, "cancel_after": "soon"}, ValueError, "cancel_after"),
        ({"model": ECHO, "cancel_after": ""}, ValueError, "cancel_after"),
        ({"model": ECHO, "cancel_after": 7.5}, ValueError, "whole number"),
        ({"model": ECHO, "cancel_after": True}, TypeError, "cancel_after"),
        ({"model": ECHO, "cancel_after": [5]}, TypeError, "cancel_after"),
    ],
)
def test_bad_create_arguments_are_refused_before_sending(
    client: Client, fake: FakeReplicate, kwargs: dict[str, Any], error: type[Exception], word: str
) -> None:
    with pytest.raises(error, match=word):
        client.predictions.create(**kwargs)
    assert fake.requests == []


@pytest.mark.parametrize("bad_id", [None, "", 5, ["id"]])
def test_bad_ids_are_refused(client: Client, fake: FakeReplicate, bad_id: Any) -> None:
    for method in (client.predictions.get, client.predictions.cancel):
        with pytest.raises(TypeError, match="id"):
            method(bad_id)
    assert fake.requests == []


def test_ids_are_escaped_into_the_path(client: Client, fake: FakeReplicate) -> None:
    with pytest.raises(ReplicateError):
        client.predictions.get("../../v1/predictions?x=1")
    assert fake.requests[-1].path == "/v1/predictions/..%2F..%2Fv1%2Fpredictions%3Fx%3D1"


def test_get_compares_the_answer_with_the_plain_id_a_str_subclass_holds(client: Client) -> None:
    class Raising(str):
        def __eq__(self, other: object) -> bool:
            raise RuntimeError("a caller's __eq__")

        __hash__ = str.__hash__

    created = client.predictions.create(model="replicate-min/echo", input={"prompt": "x"})
    assert client.predictions.get(Raising(created.id)).id == created.id
