"""The official replicate==1.0.7 client against our fake server (tox env `official`).

Proof that the fake speaks the real protocol: the client that Replicate ships creates,
waits, gets, lists and cancels through it without knowing it is a fake.
"""

from __future__ import annotations

from typing import Iterator

import pytest

replicate = pytest.importorskip("replicate")  # only the `official` tox env installs it

from replicate_min.testing import FakeReplicate  # noqa: E402


@pytest.fixture
def fake() -> Iterator[FakeReplicate]:
    with FakeReplicate(start_delay=0.02, step=0.01) as server:
        yield server


def test_create_wait_get_list_cancel(fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "0.02")
    client = replicate.Client(api_token=fake.token, base_url=fake.base_url)
    prediction = client.predictions.create(version=fake.version_of("replicate-min/tokens"), input={"prompt": "a b c"})
    assert prediction.status == "starting"
    prediction.wait()
    assert prediction.status == "succeeded" and prediction.output == ["a", " b", " c"]
    assert prediction.progress is not None and prediction.progress.percentage == 1.0
    assert client.predictions.get(prediction.id).output == ["a", " b", " c"]
    endless = client.predictions.create(version=fake.version_of("replicate-min/forever"), input={})
    canceled = client.predictions.cancel(endless.id)
    assert canceled.status == "canceled"
    page = client.predictions.list()
    assert [p.id for p in page.results] == [endless.id, prediction.id]
    failed = client.predictions.create(version=fake.version_of("replicate-min/fail"), input={})
    failed.wait()
    assert failed.status == "failed" and failed.error


def test_model_endpoint_and_errors(fake: FakeReplicate) -> None:
    client = replicate.Client(api_token=fake.token, base_url=fake.base_url)
    prediction = client.models.predictions.create(model="replicate-min/echo", input={"prompt": "hi"}, wait=True)
    assert prediction.status == "succeeded" and prediction.output == "hi"
    bad = replicate.Client(api_token="r8_wrong", base_url=fake.base_url)
    with pytest.raises(replicate.exceptions.ReplicateError) as info:
        bad.predictions.get(prediction.id)
    assert info.value.status == 401
