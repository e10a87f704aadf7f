"""Replays real recorded API traffic (tests/cassettes) through the client over loopback."""

from __future__ import annotations

import asyncio
import json

import pytest

from replicate_min import Client, Progress, ReplicateError
from tests.replay import CASSETTES, Replay

SDXL = "39ed52f2a78e934b3ba6e2a89f5b1c712de7dfea535525255b1aa35c5565e08b"


def _client(replay: Replay) -> Client:
    return Client(api_token="r8_recorded", base_url=replay.base_url, poll_interval=0)


def test_run_polls_to_success() -> None:
    with Replay("run.json") as replay:
        client = _client(replay)
        prediction = client.predictions.create(
            version=SDXL,
            input={"prompt": "a studio photo of a rainbow colored corgi", "width": 512, "height": 512, "seed": 42069},
        )
        assert prediction.status == "starting" and prediction.model == "stability-ai/sdxl"  # a duplicate key
        prediction.wait()
        assert prediction.status == "succeeded"
        assert isinstance(prediction.output, list) and prediction.output[0].startswith("https://")
        polls = [seen for seen in replay.seen if seen[0] == "GET"]
        assert len(polls) == 11
        client.close()


def test_predictions_get_parses_every_field_and_its_progress() -> None:
    recorded = json.loads((CASSETTES / "predictions-get.json").read_text())["interactions"][0]["response"]["body"]
    with Replay("predictions-get.json") as replay:
        prediction = _client(replay).predictions.get("vgcm4plb7tgzlyznry5d5jkgvu")
    body = json.loads(recorded)
    for name, value in body.items():
        assert prediction.to_dict()[name] == value
    assert prediction.status == "succeeded"
    assert prediction.progress == Progress(1.0, 50, 50)
    assert prediction.metrics == body["metrics"] and prediction.urls == body["urls"]


def test_predictions_cancel() -> None:
    with Replay("predictions-cancel.json") as replay:
        client = _client(replay)
        created = client.predictions.create(version=SDXL, input={"prompt": "x"})
        canceled = client.predictions.cancel(created.id)
    assert canceled.status == "canceled" and canceled.logs is None and canceled.output is None
    assert canceled.metrics is not None and "predict_time" in canceled.metrics


def test_an_invalid_token_gives_a_401_replicate_error() -> None:
    with Replay("run__invalid-token.json") as replay:
        with pytest.raises(ReplicateError) as info:
            _client(replay).predictions.create(version=SDXL, input={})
    assert info.value.status == 401
    assert info.value.title == "Unauthenticated"
    assert info.value.detail == "You did not pass a valid authentication token"


def test_four_predictions_run_concurrently_through_the_async_api() -> None:
    with Replay("run__concurrently.json") as replay:
        client = _client(replay)

        async def main() -> list[str]:
            predictions = await asyncio.gather(
                *(client.predictions.async_create(version=SDXL, input={"prompt": f"p{i}"}) for i in range(4))
            )
            await asyncio.gather(*(p.async_wait() for p in predictions))
            return [p.status for p in predictions]

        assert asyncio.run(main()) == ["succeeded"] * 4
        polls = [seen for seen in replay.seen if seen[0] == "GET"]
        assert len(polls) == 129
        client.close()


@pytest.mark.parametrize(
    ("name", "wait", "header"),
    [
        ("test_models_predictions_create_blocking[True-True].json", True, "wait"),
        ("test_models_predictions_create_blocking[False-10].json", 10, "wait=10"),
    ],
)
def test_prefer_wait_answers_processing_with_a_dp_version(name: str, wait: object, header: str) -> None:
    with Replay(name) as replay:
        prediction = _client(replay).predictions.create(
            model="meta/meta-llama-3-8b-instruct",
            input={"prompt": "Please write a haiku about llamas"},
            wait=wait,  # type: ignore[arg-type]
        )
        assert replay.seen[-1][2]["prefer"] == header
    assert prediction.status == "processing" and not prediction.done
    assert prediction.version is not None and prediction.version.startswith("dp-")
    assert prediction.urls is not None and "stream" in prediction.urls
    assert prediction.data_removed is False and prediction.completed_at is None


def test_a_model_create_may_name_another_model() -> None:
    with Replay("test_predictions_create_by_model[True].json") as replay:
        prediction = _client(replay).predictions.create(model="meta/meta-llama-3-8b-instruct", input={"prompt": "x"})
    assert prediction.model == "replicate-internal/llama-3-8b-instruct-int8-triton"


def test_timestamps_of_two_to_nine_fraction_digits_are_kept_verbatim() -> None:
    with Replay("run__concurrently.json") as replay:
        bodies = [
            json.loads(i["response"]["body"]) for i in replay.interactions if "/v1/predictions" in i["request"]["uri"]
        ]
    from replicate_min import Prediction

    digits = set()
    for body in bodies:
        prediction = Prediction.from_json(body)
        for stamp in (prediction.created_at, prediction.started_at, prediction.completed_at):
            if stamp:
                digits.add(len(stamp.rsplit(".", 1)[1].rstrip("Z")))
    assert len(digits) > 1
