"""Prediction: validation of every field, progress, status handling, wait/reload/cancel."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import pickle
import time
import typing
from typing import Any

import pytest

import replicate_min
import replicate_min._client
from replicate_min import (
    Client,
    Prediction,
    Progress,
    ReplicateException,
    Status,
    ValidationError,
    WaitTimeoutError,
)
from replicate_min.testing import FakeReplicate

VALID: dict[str, Any] = {
    "id": "p1",
    "model": "o/n",
    "version": "hidden",
    "status": "succeeded",
    "input": {"a": 1},
    "output": ["x"],
    "logs": "",
    "error": None,
    "metrics": {"predict_time": 1.5},
    "created_at": "2024-10-04T18:07:33.396Z",
    "started_at": "2024-10-04T18:07:33.558752983Z",
    "completed_at": "2024-10-04T18:07:34.04Z",
    "urls": {"get": "https://api.replicate.com/v1/predictions/p1"},
    "data_removed": False,
    "deadline": "2024-10-04T19:07:33Z",
    "deployment": "o/d",
    "source": "api",
    "webhook": "https://example.com/hook",
    "webhook_events_filter": ["completed"],
    "webhook_completed": None,
}

BAD_VALUES = [
    ("id", 5),
    ("id", None),
    ("status", 1),
    ("status", None),
    ("model", ["o/n"]),
    ("version", 3),
    ("input", "text"),
    ("logs", 12),
    ("error", {"message": "x"}),
    ("metrics", [1]),
    ("created_at", 1700000000),
    ("started_at", False),
    ("completed_at", 1.5),
    ("urls", ["https://x"]),
    ("urls", {"get": 5}),
    ("data_removed", "no"),
    ("data_removed", 0),
    ("deadline", 5),
    ("deployment", {}),
    ("source", 1),
    ("webhook", True),
    ("webhook_events_filter", "completed"),
    ("webhook_events_filter", [1]),
    ("webhook_completed", 5),
]


def test_a_full_body_parses_with_every_field() -> None:
    prediction = Prediction.from_json({**VALID, "brand_new_field": {"x": 1}})
    for name, value in VALID.items():
        assert getattr(prediction, name) == value
    assert prediction.extra == {"brand_new_field": {"x": 1}}
    assert prediction.to_dict() == {**VALID, "brand_new_field": {"x": 1}}
    assert prediction.dict() == prediction.to_dict()


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_a_malformed_field_names_the_field_and_value(name: str, value: Any) -> None:
    with pytest.raises(ValidationError) as info:
        Prediction.from_json({**VALID, name: value})
    assert info.value.field == name
    assert name in str(info.value)


@pytest.mark.parametrize(("name", "value"), [pair for pair in BAD_VALUES if pair[1] is not None])
def test_a_malformed_field_from_the_server_raises_validation_error(
    client: Client, fake: FakeReplicate, name: str, value: Any
) -> None:
    prediction = client.predictions.create(model="replicate-min/echo", input={})
    fake.update(prediction.id, extra={name: value})
    with pytest.raises(ValidationError) as info:
        client.predictions.get(prediction.id)
    assert info.value.field == name
    assert repr(value)[:20] in str(info.value)


@pytest.mark.parametrize("missing", ["id", "status"])
def test_id_and_status_are_required(missing: str) -> None:
    body = {k: v for k, v in VALID.items() if k != missing}
    with pytest.raises(ValidationError, match=missing):
        Prediction.from_json(body)


@pytest.mark.parametrize("body", [[], "x", None, 5])
def test_a_body_that_is_not_an_object_is_refused(body: Any) -> None:
    with pytest.raises(ValidationError, match="JSON object"):
        Prediction.from_json(body)


def test_only_id_and_status_are_needed() -> None:
    prediction = Prediction.from_json({"id": "x", "status": "starting"})
    assert prediction.output is None and prediction.urls is None and not prediction.done


@pytest.mark.parametrize(
    ("status", "done"),
    [
        ("starting", False),
        ("processing", False),
        ("succeeded", True),
        ("failed", True),
        ("canceled", True),
        ("aborted", True),
    ],
)
def test_terminal_statuses(status: str, done: bool) -> None:
    assert Prediction(id="x", status=status).done is done


def test_an_unknown_status_is_accepted_logged_and_not_terminal(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="replicate_min"):
        prediction = Prediction.from_json({"id": "x", "status": "queued-somewhere-new"})
    assert not prediction.done
    assert "queued-somewhere-new" in caplog.text


def test_waiting_on_an_unknown_status_keeps_polling(client: Client, fake: FakeReplicate) -> None:
    prediction = client.predictions.create(model="replicate-min/forever", input={})
    fake.update(prediction.id, status="warming-up")
    prediction.reload()
    assert prediction.status == "warming-up"
    fake.update(prediction.id, status="aborted")
    prediction.wait(timeout=5)
    assert prediction.status == "aborted"


@pytest.mark.parametrize(
    ("logs", "expected"),
    [
        (None, None),
        ("", None),
        ("no bars here", None),
        (" 76%|███████▋  | 7568/10000 [00:33<00:10, 229.00it/s]", Progress(0.76, 7568, 10000)),
        ("  0%|          | 0/50\n 50%|█████     | 25/50\nother line", Progress(0.5, 25, 50)),
        ("100%|| 5/5", None),
        ("a\u2028b\n 10%|█| 1/10", Progress(0.1, 1, 10)),
    ],
)
def test_progress_is_parsed_from_the_last_tqdm_line(logs: str | None, expected: Progress | None) -> None:
    assert Prediction(id="x", status="processing", logs=logs).progress == expected
    assert Prediction.Progress is Progress


def test_wait_polls_until_done(client: Client, fake: FakeReplicate) -> None:
    prediction = client.predictions.create(model="replicate-min/tokens", input={"prompt": "a b c"})
    assert prediction.wait() is None
    assert prediction.status == "succeeded"
    assert prediction.output == ["a", " b", " c"]
    assert prediction.progress == Progress(1.0, 3, 3)
    assert prediction.metrics is not None and prediction.completed_at is not None


def test_wait_gives_up_at_its_timeout_and_the_prediction_keeps_running(client: Client, fake: FakeReplicate) -> None:
    prediction = client.predictions.create(model="replicate-min/forever", input={})
    started = time.monotonic()
    with pytest.raises(WaitTimeoutError) as info:
        prediction.wait(timeout=0.2)
    assert time.monotonic() - started >= 0.2  # it waited (the model never ends: it could only give up)
    assert info.value.prediction is prediction
    assert client.predictions.get(prediction.id).status == "processing"


@pytest.mark.parametrize(("timeout", "error"), [(-1, ValueError), ("5", TypeError), (True, TypeError)])
def test_wait_refuses_a_bad_timeout(client: Client, timeout: Any, error: type[Exception]) -> None:
    prediction = client.predictions.create(model="replicate-min/echo", input={})
    with pytest.raises(error, match="timeout"):
        prediction.wait(timeout=timeout)


def test_reload_and_cancel_update_in_place(client: Client) -> None:
    prediction = client.predictions.create(model="replicate-min/forever", input={})
    prediction.cancel()
    assert prediction.status == "canceled"
    prediction.reload()
    assert prediction.status == "canceled" and prediction.completed_at


def test_an_unbound_prediction_acts_through_the_default_client(
    client: Client, fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = client.predictions.create(model="replicate-min/echo", input={"prompt": "x"})
    unbound = Prediction(id=made.id, status="starting")
    with pytest.raises(ReplicateException, match="REPLICATE_API_TOKEN"):
        unbound.reload()  # the default client has no token yet
    monkeypatch.setenv("REPLICATE_API_TOKEN", fake.token)
    monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)
    monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "0.01")  # not the default half second
    replicate_min._client.reset_default_client()
    unbound.wait()
    assert unbound.status == "succeeded" and unbound.output == "x"
    assert unbound.bind(client) is unbound


def test_async_wait_reload_cancel(client: Client) -> None:
    async def main() -> tuple[str, str]:
        done = await client.predictions.async_create(model="replicate-min/echo", input={"prompt": "x"})
        await done.async_wait()
        endless = await client.predictions.async_create(model="replicate-min/forever", input={})
        await endless.async_cancel()
        await endless.async_reload()
        return done.status, endless.status

    assert asyncio.run(main()) == ("succeeded", "canceled")


def test_async_wait_times_out(client: Client) -> None:
    async def main() -> None:
        endless = await client.predictions.async_create(model="replicate-min/forever", input={})
        await endless.async_wait(timeout=0.1)

    with pytest.raises(WaitTimeoutError):
        asyncio.run(main())


def test_async_wait_holds_no_thread_while_many_predictions_are_awaited(fake: FakeReplicate) -> None:
    # Two worker threads and forty waits: a wait that held a thread between polls would hold
    # both, the get below would queue behind them for ever, and the test's timeout would fail it.
    client = Client(api_token=fake.token, base_url=fake.base_url, poll_interval=0.01, max_concurrency=2)

    async def main() -> list[str]:
        predictions = await asyncio.gather(
            *(client.predictions.async_create(model="replicate-min/forever", input={}) for _ in range(40))
        )
        waits = [asyncio.ensure_future(p.async_wait()) for p in predictions]
        got = await client.predictions.async_get(predictions[0].id)
        assert got.status == "processing" and not any(w.done() for w in waits)
        for p in predictions:
            fake.cancel(p.id)
        await asyncio.gather(*waits)
        return [p.status for p in predictions]

    assert asyncio.run(main()) == ["canceled"] * 40
    assert client.requester.workers.threads <= 2
    client.close()


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


def test_a_wait_timeout_always_carries_the_prediction(client: Client) -> None:
    prediction = client.predictions.create(model="replicate-min/forever", input={})
    with pytest.raises(WaitTimeoutError) as info:
        prediction.wait(timeout=0.05)
    assert isinstance(info.value.prediction, Prediction) and info.value.prediction.id == prediction.id
    hints = typing.get_type_hints(WaitTimeoutError.__init__)
    assert hints["prediction"] is Prediction  # not Optional


def test_every_prediction_field_has_a_declared_json_type() -> None:
    import dataclasses

    from replicate_min import _prediction

    names = {item.name for item in dataclasses.fields(Prediction)}
    assert names == set(_prediction._FIELD_TYPES) | set(_prediction._UNCHECKED_FIELDS)


@pytest.mark.parametrize(
    "bad",
    [
        "\ud800",
        "..",
        ".",
        "",
        "a/b",
        "../x",
        "é1",
        "a b",
        "a%2f",
        "a?b",
        "a#b",
        "x" * 257,
        "p\nWARNING:forged",
        "p3\x1b[2J",
    ],
)
def test_a_server_sent_id_that_cannot_name_a_path_segment_is_a_validation_error(bad: str) -> None:
    from replicate_min import ValidationError

    with pytest.raises(ValidationError, match="'id'") as caught:
        Prediction.from_json({"id": bad, "status": "starting"})
    assert caught.value.field == "id"


@pytest.mark.parametrize("good", ["ufawqhfynnddngldkgtslldrkq", "p-1_a.b", "ID42"])
def test_ordinary_ids_pass(good: str) -> None:
    assert Prediction.from_json({"id": good, "status": "starting"}).id == good


@pytest.mark.parametrize(
    "line",
    [
        " 50%|##| " + "9" * 400 + "/" + "9" * 400,  # OverflowError / int digit limit before
        "9" * 5000 + "%|##| 1/2",
        " 50%|##| 1/" + "9" * 16,
    ],
)
def test_a_tqdm_line_with_huge_numbers_is_no_progress(line: str) -> None:
    assert Prediction(id="p", status="processing", logs=line).progress is None
    assert Prediction(id="p", status="processing", logs=" 10%|#| 1/10\n" + line).progress == Progress(0.1, 1, 10)
