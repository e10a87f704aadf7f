"""Predictions fanned out over a real Dask cluster: two worker processes, the fake in this one.

Run by the ``distributed`` tox environment, which installs ``dask[distributed]``; skipped elsewhere.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator

import pytest

distributed = pytest.importorskip("distributed", reason="the distributed tox environment installs dask[distributed]")

import replicate_min  # noqa: E402
from replicate_min import ModelError  # noqa: E402
from replicate_min.testing import FakeReplicate  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")


_CLIENTS: Dict[str, replicate_min.Client] = {}


def _run(model: str, prompt: str, token: str, base_url: str) -> Any:
    """On a worker: one client per process and server, kept (a worker runs many tasks)."""
    client = _CLIENTS.get(base_url)
    if client is None:
        client = _CLIENTS[base_url] = replicate_min.Client(api_token=token, base_url=base_url, poll_interval=0.01)
    return client.run(model, {"prompt": prompt})


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=4, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_two_hundred_predictions_over_a_local_cluster_each_answer_right(cluster: Any) -> None:
    with FakeReplicate(start_delay=0, step=0) as fake:
        prompts = [f"prompt-{i}" for i in range(200)]
        futures = cluster.map(_run, ["replicate-min/echo"] * 200, prompts, token=fake.token, base_url=fake.base_url)
        assert cluster.gather(futures) == prompts
        assert fake.creates == 200


def test_a_failed_prediction_on_a_worker_is_caught_by_its_class(cluster: Any) -> None:
    with FakeReplicate(start_delay=0, step=0) as fake:
        future = cluster.submit(_run, "replicate-min/fail", "x", token=fake.token, base_url=fake.base_url, pure=False)
        with pytest.raises(ModelError) as info:
            future.result()
        assert info.value.prediction.status == "failed"
        assert info.value.prediction.id == fake.predictions_created[-1].id
