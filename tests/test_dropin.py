"""Issue 13's drop-in points that the official client cannot run against the fake (or that
only replicate_min promises); the both-client programs are in tests/official/test_dropin_same.py."""

from __future__ import annotations

import array
import asyncio
import copy
import dataclasses
import inspect
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List

import pytest

import replicate_min
from replicate_min import Client, Prediction
from replicate_min._client import get_default_client, reset_default_client
from replicate_min.testing import FakeReplicate

ECHO = "replicate-min/echo"
DEPLOYMENT = "replicate-min/echo-deployment"
PACKAGE_PARENT = str(Path(replicate_min.__file__).parent.parent)


# -- 6. async_stream without await ---------------------------------------------------------


def test_async_stream_iterates_with_or_without_await(fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch) -> None:
    # The official async_stream is a coroutine and must be awaited first; ours may be.
    monkeypatch.setenv("REPLICATE_API_TOKEN", fake.token)
    monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)

    async def main() -> List[str]:
        plain = "".join(
            [str(e) async for e in replicate_min.async_stream("replicate-min/tokens", input={"prompt": "a b"})]
        )
        awaited = await replicate_min.async_stream("replicate-min/tokens", input={"prompt": "c d"})
        return [plain, "".join([str(e) async for e in awaited])]

    assert asyncio.run(main()) == ["a b", "c d"]


# -- 10. NumPy-like inputs, without NumPy ---------------------------------------------------------


class FakeArray:
    """What matters of a NumPy array here: ``tolist()``."""

    def __init__(self, rows: List[List[int]]) -> None:
        self.rows = rows

    def tolist(self) -> List[List[int]]:
        return self.rows


class FakeScalar:
    """What matters of a NumPy scalar here: ``item()``."""

    def __init__(self, value: float) -> None:
        self.value = value

    def item(self) -> float:
        return self.value


def test_objects_with_tolist_or_item_are_sent_as_lists_and_numbers(client: Client) -> None:
    output = client.run(
        ECHO,
        input={"array": FakeArray([[1, 2], [3, 4]]), "scalar": FakeScalar(0.5), "typed": array.array("i", [7, 8])},
    )
    assert output == {"array": [[1, 2], [3, 4]], "scalar": 0.5, "typed": [7, 8]}


def test_a_generator_inside_a_set_of_inputs_and_the_depth_limit(client: Client, fake: FakeReplicate) -> None:
    assert client.run(ECHO, input={"g": ((i, i) for i in range(2))}) == {"g": [[0, 0], [1, 1]]}
    deep: Any = 0
    for _ in range(200):
        deep = (deep,)
    with pytest.raises(TypeError, match="nests deeper"):
        client.predictions.create(model=ECHO, input={"deep": deep})


# -- 3. Prediction construction, serializing, copying -------------------------------------------------


PAYLOAD: Dict[str, Any] = {"id": "p1", "status": "succeeded", "output": "hi", "new_key": [1], "another": None}


def test_unknown_keywords_go_to_extra_and_round_trip() -> None:
    prediction = Prediction(**PAYLOAD)
    assert prediction.extra == {"new_key": [1], "another": None}
    assert dict(prediction) == prediction.to_dict() == prediction.dict()
    assert Prediction(**dict(prediction)) == prediction
    both = Prediction(id="p2", status="starting", extra={"a": 1}, b=2)  # type: ignore[call-arg]
    assert both.extra == {"a": 1, "b": 2}
    assert prediction.dict(exclude_none=True) == {"id": "p1", "status": "succeeded", "output": "hi", "new_key": [1]}
    assert prediction.json(include=["id"], sort_keys=True) == '{"id": "p1"}'


def test_the_constructor_keeps_its_signature_and_the_copies_still_work() -> None:
    parameters = inspect.signature(Prediction).parameters
    assert list(parameters)[:3] == ["id", "status", "model"] and "extra" in parameters
    with pytest.raises(TypeError):
        Prediction("p", "succeeded", "o/n", "v", {}, None, None, None, None, None, None, None, None, None, None, None,
                   None, None, None, None, {}, "one too many")  # type: ignore[call-arg]  # fmt: skip
    prediction = Prediction(**PAYLOAD)
    assert dataclasses.asdict(prediction)["extra"] == {"new_key": [1], "another": None}
    assert copy.deepcopy(prediction) == prediction and pickle.loads(pickle.dumps(prediction)) == prediction
    with pytest.raises(replicate_min.ValidationError):
        Prediction(id="p", status="succeeded", logs=5)  # type: ignore[arg-type]


# -- 4. namespaces: what only replicate_min checks -----------------------------------------------------


def test_targets_as_tuples_and_deployments(client: Client, fake: FakeReplicate) -> None:
    deployment = client.deployments.get(DEPLOYMENT)
    prediction = client.predictions.create(deployment=deployment, input={"prompt": "obj"}, wait=True)
    assert prediction.output == "obj" and prediction.deployment == DEPLOYMENT
    assert client.models.predictions.create(("replicate-min", "echo"), {"prompt": "pos"}, wait=True).output == "pos"
    with pytest.raises(TypeError, match=r"\(owner, name\)"):
        client.predictions.create(model=("replicate-min",), input={})
    with pytest.raises(ValueError, match="owner/name"):
        client.deployments.get("no-slash")
    assert deployment.current_release is not None and deployment.current_release.created_by is not None
    assert deployment.current_release.created_by.type == "organization"
    assert pickle.loads(pickle.dumps(deployment)) == deployment
    assert len([r for r in fake.requests if r.method == "POST"]) == 2


def test_module_level_namespaces_are_the_default_clients(fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICATE_API_TOKEN", fake.token)
    monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)
    prediction = replicate_min.deployments.get(DEPLOYMENT).predictions.create(input={"prompt": "m"}, wait=True)
    assert prediction.output == "m"
    assert replicate_min.models.predictions.create(model=ECHO, input={"prompt": "n"}, wait=True).output == "n"
    assert replicate_min.files is get_default_client().files
    assert {"models", "deployments", "files", "predictions", "client", "helpers"} <= set(dir(replicate_min))


# -- 9. default_client ------------------------------------------------------------------------------


def test_default_client_is_a_client_made_on_first_use_and_reset(
    fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPLICATE_API_TOKEN", fake.token)
    monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)
    first = replicate_min.default_client
    assert isinstance(first, Client) and first.base_url == fake.base_url
    assert first() is first and replicate_min.default_client() is first  # the earlier, function spelling
    assert "default_client" not in vars(replicate_min)  # never stored in the package
    first.poll_interval = 0.02
    assert get_default_client().poll_interval == 0.02
    reset_default_client()
    assert replicate_min.default_client is not first and replicate_min.default_client.poll_interval == 0.5
    from replicate_min._client import default_client

    assert default_client is replicate_min.default_client


# -- 2. the stream name: a function and a module ----------------------------------------------------------


@pytest.mark.parametrize(
    "program",
    [
        "from replicate_min.stream import ServerSentEvent\nimport replicate_min",
        "import replicate_min.stream\nimport replicate_min",
        "import replicate_min\nreplicate_min.stream\nfrom replicate_min.stream import EventStream",
        "import replicate_min\nfrom replicate_min import helpers, client, prediction",
    ],
)
def test_replicate_min_stream_stays_the_function_whatever_the_import_order(program: str) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {PACKAGE_PARENT!r})
        {textwrap.indent(program, "        ").strip()}
        import types
        assert callable(replicate_min.stream) and not isinstance(replicate_min.stream, types.ModuleType)
        assert sys.modules["replicate_min.stream"].ServerSentEvent.__name__ == "ServerSentEvent"
        heavy = ("urllib.request", "http.client", "ssl", "asyncio", "socket")
        print(",".join(name for name in heavy if name in sys.modules))
        """
    )
    result = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_public_modules_export_what_they_list() -> None:
    from replicate_min import client, helpers, prediction  # noqa: F401  # the modules

    for module in (
        replicate_min.client,
        replicate_min.helpers,
        replicate_min.prediction,
        sys.modules["replicate_min.stream"],
    ):
        for name in module.__all__:
            assert getattr(module, name).__module__.startswith("replicate_min"), (module, name)


def test_helpers_transform_output_takes_a_client(client: Client) -> None:
    from replicate_min.helpers import FileOutput, transform_output

    output = transform_output({"a": ["data:text/plain;base64,aGk=", "plain"]}, client)
    assert isinstance(output["a"][0], FileOutput) and output["a"][0].read() == b"hi" and output["a"][1] == "plain"
    with pytest.raises(TypeError):
        transform_output("https://x", object())


def test_a_malformed_deployment_is_a_validation_error(client: Client, fake: FakeReplicate) -> None:
    fake.fail_next("status", status=200, body={"owner": 5, "name": "x"}, path="/v1/deployments/")
    with pytest.raises(replicate_min.ValidationError, match="owner"):
        client.deployments.get(DEPLOYMENT)
    fake.fail_next("status", status=200, body={"owner": "o", "name": "n", "current_release": {"number": "1"}})
    with pytest.raises(replicate_min.ValidationError, match="number"):
        client.deployments.get(DEPLOYMENT)
