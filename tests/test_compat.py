"""The official client's README predictions examples, unchanged but for the import line.

Each test body is written the way replicate-python's users write code; only
``import replicate_min as replicate`` differs. Model names resolve on the fake server.
"""

from __future__ import annotations

import asyncio
from typing import Any, Iterator

import pytest

import replicate_min as replicate
from replicate_min.testing import WAIT, FakeReplicate, tokens

FLUX = "black-forest-labs/flux-schnell"
LLAMA = "meta/meta-llama-3-70b-instruct"
CLIPDRAW = "kvfrans/clipdraw"
CLIPDRAW_VERSION = "5797a99edc939ea0e9242d5e8c9cb3bc7d125b1eac21bda852e5cb79ede2cd9b"


def frames_once_looked_at(fake: FakeReplicate) -> Iterator[Any]:
    """CLIPDRAW's three frames, made only once the client has read a prediction back: a slow model,
    without timing, so a background prediction is still running when it is created or canceled."""
    while not any(r.method == "GET" and r.path.startswith("/v1/predictions/") for r in fake.requests):
        yield WAIT
    yield from (f"frame {i}" for i in range(3))


@pytest.fixture(autouse=True)
def official_models(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeReplicate]:
    with FakeReplicate(start_delay=0.02, step=0.01) as fake:
        fake.add_model(FLUX, lambda input: ["https://replicate.delivery/xezq/output-0.webp"])
        fake.add_model(LLAMA, tokens)
        fake.add_model(CLIPDRAW, lambda input: frames_once_looked_at(fake), version=CLIPDRAW_VERSION)
        monkeypatch.setenv("REPLICATE_API_TOKEN", fake.token)
        monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)
        monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "0.01")
        yield fake


def test_run_a_model() -> None:
    output = replicate.run(FLUX, input={"prompt": "astronaut riding a rocket like a horse"})
    assert output == ["https://replicate.delivery/xezq/output-0.webp"]


def test_stream_output() -> None:
    printed = []
    for event in replicate.stream(LLAMA, input={"prompt": "Please write a haiku about llamas."}):
        printed.append(str(event))
    assert "".join(printed) == "Please write a haiku about llamas."


def test_run_a_model_in_the_background() -> None:
    prediction = replicate.predictions.create(
        version=CLIPDRAW_VERSION, input={"prompt": "Watercolor painting of an underwater submarine"}
    )
    assert prediction.status in ("starting", "processing")
    prediction.reload()
    prediction.wait()
    assert prediction.status == "succeeded"
    assert prediction.output == ["frame 0", "frame 1", "frame 2"]


def test_run_a_model_in_the_background_and_get_a_webhook() -> None:
    prediction = replicate.predictions.create(
        version=CLIPDRAW_VERSION,
        input={"prompt": "Watercolor painting of an underwater submarine"},
        webhook="https://example.com/your-webhook",
        webhook_events_filter=["completed"],
    )
    assert prediction.id


def test_create_by_model_and_iterate_the_output() -> None:
    prediction = replicate.predictions.create(model=LLAMA, input={"prompt": "one two three"})
    assert [output for output in prediction.output_iterator()] == ["one", " two", " three"]


def test_cancel_a_prediction() -> None:
    prediction = replicate.predictions.create(version=CLIPDRAW_VERSION, input={"prompt": "x"})
    prediction.cancel()
    assert prediction.status == "canceled"


def test_list_predictions() -> None:
    replicate.predictions.create(version=CLIPDRAW_VERSION, input={"prompt": "x"})
    predictions = replicate.predictions.list()
    assert len(predictions.results) == 1
    page1 = replicate.predictions.list()
    if page1.next:
        replicate.predictions.list(page1.next)
    for page in replicate.paginate(replicate.predictions.list):
        for prediction in page:
            assert prediction.id


def test_async_run_many() -> None:
    async def main() -> list[Any]:
        prompts = [f"A chariot pulled by a team of {count} rainbow unicorns" for count in ["two", "four", "six"]]
        async with asyncio.TaskGroup() as tg:  # type: ignore[attr-defined]
            tasks = [tg.create_task(replicate.async_run(FLUX, input={"prompt": prompt})) for prompt in prompts]
        return await asyncio.gather(*tasks)

    if not hasattr(asyncio, "TaskGroup"):  # Python < 3.11: the README's gather form

        async def main() -> list[Any]:  # type: ignore[misc]
            prompts = ["two", "four"]
            return await asyncio.gather(*(replicate.async_run(FLUX, input={"prompt": p}) for p in prompts))

    results = asyncio.run(main())
    assert all(result == ["https://replicate.delivery/xezq/output-0.webp"] for result in results)


def test_async_stream_and_async_predictions() -> None:
    async def main() -> tuple[str, str]:
        text = ""
        async for event in replicate.async_stream(LLAMA, input={"prompt": "async stream"}):
            text += str(event)
        prediction = await replicate.predictions.async_create(model=LLAMA, input={"prompt": "a b"})
        await prediction.async_wait()
        await prediction.async_reload()
        page = await replicate.predictions.async_list()
        assert len(page.results) == 2
        return text, "".join(prediction.output)

    assert asyncio.run(main()) == ("async stream", "a b")


def test_errors_are_caught_under_the_official_names() -> None:
    from replicate_min.exceptions import ModelError, ReplicateError

    with pytest.raises(ReplicateError):
        replicate.predictions.get("no-such-prediction")
    replicate_min_fail = "replicate-min/fail"
    with pytest.raises(ModelError) as info:
        replicate.run(replicate_min_fail)
    assert info.value.prediction.error
