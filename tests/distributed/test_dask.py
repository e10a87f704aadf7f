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


def _shard(model: str, inputs: Any, shard: str, journal: str, token: str, base_url: str) -> Any:
    """On a worker: one shard of a batch, with its own journal; returns (row, id, output) per row."""
    with replicate_min.Client(api_token=token, base_url=base_url, poll_interval=0.01) as client:
        with client.batch(model, inputs, shard=shard, journal=journal, concurrency=4) as batch:
            return [(result.row, result.id, result.output) for result in batch]


def test_a_batch_split_in_shards_over_a_local_cluster_does_every_row_once(cluster: Any, tmp_path: Any) -> None:
    from replicate_min.testing import input_key

    inputs = [{"prompt": f"row {i}"} for i in range(90)]
    with FakeReplicate(start_delay=0, step=0) as fake:
        futures = [
            cluster.submit(
                _shard,
                "replicate-min/echo",
                inputs,
                f"{k}/3",
                str(tmp_path / f"shard-{k}.journal"),
                token=fake.token,
                base_url=fake.base_url,
                pure=False,
            )
            for k in range(3)
        ]
        parts = cluster.gather(futures)
        rows = sorted(row for part in parts for row, _, _ in part)
        assert rows == list(range(90))
        assert all(output == f"row {row}" for part in parts for row, _, output in part)
        assert [fake.creates_per_input[input_key(row)] for row in inputs] == [1] * 90
        assert [{row % 3 for row, _, _ in part} for part in parts] == [{0}, {1}, {2}]
