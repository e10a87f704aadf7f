"""Issue 13, the drop-in promise: programs written for replicate==1.0.7, run under both clients.

Each test is one program, run with ``replicate`` and with ``replicate_min`` in its place,
against the bundled fake server; both must give the same observable result. The tests
named ``test_deliberate_difference_...`` pin down where replicate_min differs on purpose
(the README's "Coming from the official client" lists each). What the official client
cannot run against the fake is tested for replicate_min alone in ``tests/test_dropin.py``.
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import json
import os
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, Iterator, List

import pytest

official = pytest.importorskip("replicate")  # only the `official` tox env installs it

import replicate_min  # noqa: E402
from replicate_min.testing import FakeReplicate  # noqa: E402

from ._tls import contexts  # noqa: E402

CLIENTS = pytest.mark.parametrize("replicate", [official, replicate_min], ids=["official", "replicate_min"])

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
DATA_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
ECHO = "replicate-min/echo"
DEPLOYMENT = "replicate-min/echo-deployment"


@pytest.fixture
def fake() -> Iterator[FakeReplicate]:
    with FakeReplicate(start_delay=0.02, step=0.01) as server:
        server.add_model("replicate-min/image", lambda input: [DATA_URL])
        yield server


def client_of(replicate: ModuleType, fake: FakeReplicate, **options: Any) -> Any:
    client = replicate.Client(api_token=fake.token, base_url=fake.base_url, **options)
    client.poll_interval = 0.01
    return client


@pytest.fixture
def module_level(fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch) -> None:
    """The module-level functions (``replicate.run``, ``replicate.predictions``) on the fake.

    The official package makes its default client at import and builds its httpx clients
    once, from the environment at first use: they are dropped here so that this test's
    environment applies. replicate_min's default client is made on first use (the
    conftest resets it around every test).
    """
    monkeypatch.setenv("REPLICATE_API_TOKEN", fake.token)
    monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)
    for name in ("_Client__client", "_Client__async_client"):
        monkeypatch.setattr(official.default_client, name, None)
    monkeypatch.setattr(official.default_client, "poll_interval", 0.5)


# -- 1. FileOutput ------------------------------------------------------------------------


@CLIENTS
def test_the_readme_first_example_writes_the_file(
    replicate: ModuleType, fake: FakeReplicate, module_level: None, tmp_path: Path
) -> None:
    # The official README: output = replicate.run(...); open("output.png", "wb").write(output[0].read())
    output = replicate.run("replicate-min/image", input={"prompt": "an astronaut riding a rainbow unicorn"})
    with open(tmp_path / "output.png", "wb") as file:
        file.write(output[0].read())
    assert (tmp_path / "output.png").read_bytes() == PNG
    chunks = list(output[0])
    assert all(isinstance(chunk, bytes) for chunk in chunks) and b"".join(chunks) == PNG
    assert str(output[0]) == DATA_URL and output[0].url == DATA_URL
    helpers = importlib.import_module(f"{replicate.__name__}.helpers")
    assert isinstance(output[0], helpers.FileOutput)


@CLIENTS
def test_use_file_output_false_gives_plain_strings(replicate: ModuleType, fake: FakeReplicate) -> None:
    output = client_of(replicate, fake).run("replicate-min/image", input={}, use_file_output=False)
    assert output == [DATA_URL] and type(output[0]) is str


@CLIENTS
def test_file_output_async_read_and_iteration(replicate: ModuleType, fake: FakeReplicate) -> None:
    async def main() -> List[bytes]:
        output = await client_of(replicate, fake).async_run("replicate-min/image", input={})
        return [await output[0].aread(), b"".join([chunk async for chunk in output[0]])]

    assert asyncio.run(main()) == [PNG, PNG]


@pytest.fixture
def file_host(tmp_path: Path) -> Iterator[Dict[str, Any]]:
    """A second fake over HTTPS, holding one file: a file host such as replicate.delivery."""
    server_context, client_context, ca_file = contexts(tmp_path)
    with FakeReplicate(ssl_context=server_context) as host:
        uploader = replicate_min.Client(api_token=host.token, base_url=host.base_url, ssl_context=client_context)
        url = uploader.files.create(PNG, filename="out.png").urls["get"] + "/download"  # public, as a CDN's
        yield {"host": host, "url": url, "ssl_context": client_context, "ca_file": ca_file}


def tls_options(replicate: ModuleType, file_host: Dict[str, Any]) -> Dict[str, Any]:
    """How each client is told to trust the test CA (the one line that differs between the programs)."""
    if replicate is official:  # its own transport ignores httpx.Client(verify=...): give it one that trusts the CA
        httpx = importlib.import_module("httpx")  # the official client's dependency
        return {"transport": httpx.HTTPTransport(verify=file_host["ssl_context"])}
    return {"ssl_context": file_host["ssl_context"]}


@CLIENTS
def test_an_https_file_output_reads_and_iterates(
    replicate: ModuleType, fake: FakeReplicate, file_host: Dict[str, Any]
) -> None:
    fake.add_model("replicate-min/remote-image", lambda input: [file_host["url"]])
    client = client_of(replicate, fake, **tls_options(replicate, file_host))
    output = client.run("replicate-min/remote-image", input={})
    assert output[0].read() == PNG and b"".join(output[0]) == PNG
    assert str(output[0]) == file_host["url"] and output[0].url == file_host["url"]


@CLIENTS
def test_deliberate_difference_no_token_is_sent_to_a_file_host(
    replicate: ModuleType, fake: FakeReplicate, file_host: Dict[str, Any]
) -> None:
    # The official client sends "Authorization: Bearer <your token>" to whatever host an
    # output URL names; replicate_min sends it only to the API's origin and Replicate's hosts.
    fake.add_model("replicate-min/remote-image", lambda input: [file_host["url"]])
    client = client_of(replicate, fake, **tls_options(replicate, file_host))
    client.run("replicate-min/remote-image", input={})[0].read()
    sent = file_host["host"].requests[-1].headers.get("authorization")
    assert sent == (f"Bearer {fake.token}" if replicate is official else None)


@CLIENTS
def test_deliberate_difference_file_output_is_a_str(replicate: ModuleType, fake: FakeReplicate) -> None:
    # replicate_min's FileOutput is also the URL string, so code from before 1.0 (which got
    # strings) keeps working; the official one is not a str.
    output = client_of(replicate, fake).run("replicate-min/image", input={})
    assert isinstance(output[0], str) is (replicate is replicate_min)
    assert str(output[0]) == DATA_URL


# -- 2. the official module paths ----------------------------------------------------------


@CLIENTS
def test_the_official_module_paths(replicate: ModuleType) -> None:
    name = replicate.__name__
    exports = {
        "client": ["Client"],
        "prediction": ["Prediction", "Predictions"],
        "pagination": ["Page", "paginate", "async_paginate"],
        "stream": ["ServerSentEvent"],
        "helpers": ["FileOutput", "transform_output"],
        "webhook": ["Webhooks", "WebhookSigningSecret", "InvalidSignatureError"],
        "exceptions": ["ModelError", "ReplicateError", "ReplicateException"],
    }
    for module_name, names in exports.items():
        module = importlib.import_module(f"{name}.{module_name}")
        for attribute in names:
            assert hasattr(module, attribute), f"{module_name}.{attribute}"
    assert importlib.import_module(f"{name}.client").Client is replicate.Client
    assert importlib.import_module(f"{name}.pagination").paginate is replicate.paginate
    for module_name in ("client", "prediction", "helpers", "pagination", "webhook", "exceptions"):
        assert getattr(replicate, module_name) is importlib.import_module(f"{name}.{module_name}")
    # ``replicate.stream`` stays the function, although a module of that name exists and was imported.
    assert callable(replicate.stream) and not isinstance(replicate.stream, ModuleType)
    stream_module = importlib.import_module(f"{name}.stream")
    assert stream_module.ServerSentEvent.__name__ == "ServerSentEvent"


# -- 3. serializing a prediction ---------------------------------------------------------------

# A webhook body as Replicate posts it, with keys the official model does not declare.
WEBHOOK_PAYLOAD = {
    "id": "ufawqhfynnddngldkgtslldrkq",
    "model": "replicate-min/echo",
    "version": "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa",
    "input": {"prompt": "hi"},
    "logs": "",
    "output": "hi",
    "data_removed": False,
    "error": None,
    "status": "succeeded",
    "created_at": "2026-11-27T21:00:00.000000Z",
    "started_at": "2026-11-27T21:00:01.000000Z",
    "completed_at": "2026-11-27T21:00:02.000000Z",
    "source": "api",
    "metrics": {"predict_time": 0.5},
    "urls": {"get": "https://api.replicate.com/v1/predictions/ufawqhfynnddngldkgtslldrkq"},
    "a_key_from_next_year": {"nested": True},
}
OFFICIAL_FIELDS = [
    "id", "model", "version", "status", "input", "output", "logs", "error",
    "metrics", "created_at", "started_at", "completed_at", "urls",
]  # fmt: skip


@CLIENTS
def test_a_webhook_payload_builds_a_prediction_that_serializes(replicate: ModuleType) -> None:
    Prediction = importlib.import_module(f"{replicate.__name__}.prediction").Prediction
    prediction = Prediction(**WEBHOOK_PAYLOAD)  # unknown keys do not fail
    assert prediction.id == WEBHOOK_PAYLOAD["id"] and prediction.status == "succeeded"
    as_dict = dict(prediction)
    assert {key: as_dict[key] for key in OFFICIAL_FIELDS} == {key: WEBHOOK_PAYLOAD[key] for key in OFFICIAL_FIELDS}
    assert prediction.dict(include={"id", "status"}) == {"id": WEBHOOK_PAYLOAD["id"], "status": "succeeded"}
    assert "input" not in prediction.dict(exclude={"input"}) and "output" in prediction.dict(exclude={"input"})
    assert isinstance(prediction.json(), str)
    decoded = json.loads(prediction.json())
    assert {key: decoded[key] for key in OFFICIAL_FIELDS} == {key: WEBHOOK_PAYLOAD[key] for key in OFFICIAL_FIELDS}
    assert json.loads(prediction.json(include={"output"})) == {"output": "hi"}


@CLIENTS
def test_a_fetched_prediction_serializes(replicate: ModuleType, fake: FakeReplicate) -> None:
    client = client_of(replicate, fake)
    prediction = client.predictions.create(version=fake.version_of(ECHO), input={"prompt": "x"})
    prediction.wait()
    as_dict = dict(prediction)
    assert set(OFFICIAL_FIELDS) <= set(as_dict)
    assert (as_dict["id"], as_dict["status"], as_dict["output"]) == (prediction.id, "succeeded", "x")
    assert json.loads(prediction.json())["input"] == {"prompt": "x"}


@CLIENTS
def test_deliberate_difference_unknown_keys_are_kept(replicate: ModuleType) -> None:
    # The official (pydantic v1) model drops keys it does not declare; replicate_min keeps
    # them in ``.extra``, and dict()/json() give them back.
    Prediction = importlib.import_module(f"{replicate.__name__}.prediction").Prediction
    as_dict = dict(Prediction(**WEBHOOK_PAYLOAD))
    assert ("a_key_from_next_year" in as_dict) is (replicate is replicate_min)


# -- 4. the namespaces that create predictions ---------------------------------------------------


@CLIENTS
def test_models_and_deployments_namespaces(replicate: ModuleType, fake: FakeReplicate) -> None:
    client = client_of(replicate, fake)
    made = [
        client.models.predictions.create(model=ECHO, input={"prompt": "a"}),
        client.models.predictions.create(model=("replicate-min", "echo"), input={"prompt": "b"}),
        client.deployments.predictions.create(deployment=DEPLOYMENT, input={"prompt": "c"}),
        client.deployments.predictions.create(deployment=("replicate-min", "echo-deployment"), input={"prompt": "d"}),
        client.predictions.create(model=("replicate-min", "echo"), input={"prompt": "e"}),
        client.predictions.create(deployment=("replicate-min", "echo-deployment"), input={"prompt": "f"}),
    ]
    deployment = client.deployments.get(DEPLOYMENT)
    made.append(deployment.predictions.create(input={"prompt": "g"}))
    for prediction in made:
        prediction.wait()
    assert [p.output for p in made] == list("abcdefg")
    posts = [r.path for r in fake.requests if r.method == "POST"]
    assert posts == [f"/v1/models/{ECHO}/predictions"] * 2 + [f"/v1/deployments/{DEPLOYMENT}/predictions"] * 2 + [
        f"/v1/models/{ECHO}/predictions",
        f"/v1/deployments/{DEPLOYMENT}/predictions",
        f"/v1/deployments/{DEPLOYMENT}/predictions",
    ]
    assert (deployment.owner, deployment.name, deployment.id) == ("replicate-min", "echo-deployment", DEPLOYMENT)
    release = deployment.current_release
    assert (release.number, release.model, release.version) == (1, ECHO, fake.version_of(ECHO))
    assert release.configuration.hardware == "cpu" and release.created_by.username == "replicate-min"


@CLIENTS
def test_async_namespaces(replicate: ModuleType, fake: FakeReplicate) -> None:
    async def main() -> List[Any]:
        client = client_of(replicate, fake)
        made = [
            await client.models.predictions.async_create(model=ECHO, input={"prompt": "a"}),
            await client.deployments.predictions.async_create(deployment=DEPLOYMENT, input={"prompt": "b"}),
            await (await client.deployments.async_get(DEPLOYMENT)).predictions.async_create(input={"prompt": "c"}),
            await client.predictions.async_create(model=("replicate-min", "echo"), input={"prompt": "d"}),
        ]
        for prediction in made:
            await prediction.async_wait()
        return [p.output for p in made]

    assert asyncio.run(main()) == list("abcd")


@CLIENTS
def test_a_missing_deployment_is_a_404(replicate: ModuleType, fake: FakeReplicate) -> None:
    with pytest.raises(replicate.exceptions.ReplicateError) as info:
        client_of(replicate, fake).deployments.get("replicate-min/nope")
    assert info.value.status == 404


# -- 5. extra headers ----------------------------------------------------------------------------


@CLIENTS
def test_extra_headers_go_with_every_request(replicate: ModuleType, fake: FakeReplicate) -> None:
    client = client_of(replicate, fake, headers={"X-Request-Source": "drop-in test"})
    prediction = client.predictions.create(version=fake.version_of(ECHO), input={"prompt": "h"})
    prediction.wait()
    client.predictions.get(prediction.id)
    client.predictions.list()
    assert len(fake.requests) >= 4
    assert all(r.headers.get("x-request-source") == "drop-in test" for r in fake.requests)
    assert all(r.headers.get("authorization") == f"Bearer {fake.token}" for r in fake.requests)


@CLIENTS
def test_deliberate_difference_headers_cannot_replace_the_token(replicate: ModuleType, fake: FakeReplicate) -> None:
    # The official client lets headers={"Authorization": ...} replace the token and every
    # request then fails (401); replicate_min refuses it when the client is made.
    if replicate is replicate_min:
        with pytest.raises(ValueError, match="Authorization"):
            client_of(replicate, fake, headers={"Authorization": "Bearer r8_other"})
        return
    client = client_of(replicate, fake, headers={"Authorization": "Bearer r8_other"})
    with pytest.raises(replicate.exceptions.ReplicateError) as info:
        client.predictions.list()
    assert info.value.status == 401


# -- 6. async streams ---------------------------------------------------------------------------


@CLIENTS
def test_async_for_over_an_awaited_async_stream(replicate: ModuleType, fake: FakeReplicate, module_level: None) -> None:
    async def main() -> str:
        return "".join(
            [
                str(event)
                async for event in await replicate.async_stream("replicate-min/tokens", input={"prompt": "a b c"})
            ]
        )

    assert asyncio.run(main()) == "a b c"


# -- 9. default_client --------------------------------------------------------------------------


@CLIENTS
def test_default_client_poll_interval_takes_effect(
    replicate: ModuleType, fake: FakeReplicate, module_level: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(replicate.default_client, replicate.Client)
    replicate.default_client.poll_interval = 0.01  # the official tests' pattern
    caller = threading.get_ident()
    slept: List[float] = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        if threading.get_ident() == caller:  # the caller's waits, not the fake's threads
            slept.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    prediction = replicate.predictions.create(version=fake.version_of(ECHO), input={"prompt": "p"})
    prediction.wait()
    assert prediction.output == "p"
    assert slept and set(slept) == {0.01}, slept  # every poll waited the new interval, not 0.5 s
    assert len([r for r in fake.requests if r.method == "GET"]) >= 2


# -- 10. inputs the official client converts ----------------------------------------------------


@CLIENTS
def test_sets_tuples_and_generators_are_sent_as_lists(replicate: ModuleType, fake: FakeReplicate) -> None:
    client = client_of(replicate, fake)
    words = (word for word in ("x", "y"))
    output = client.run(
        ECHO,
        input={"set": {3}, "frozen": frozenset({"z"}), "pair": (1, 2), "words": words, "nested": [{"t": (4,)}]},
    )
    assert output == {"set": [3], "frozen": ["z"], "pair": [1, 2], "words": ["x", "y"], "nested": [{"t": [4]}]}


@CLIENTS
def test_numpy_arrays_and_scalars(replicate: ModuleType, fake: FakeReplicate) -> None:
    if os.environ.get("TOX_ENV_NAME") == "official":  # it installs numpy: never a silent skip there
        import numpy
    else:  # tests/test_dropin.py duck-types it
        numpy = pytest.importorskip("numpy")
    output = client_of(replicate, fake).run(
        ECHO, input={"array": numpy.array([[1, 2], [3, 4]]), "i": numpy.int64(5), "f": numpy.float32(0.5)}
    )
    assert output == {"array": [[1, 2], [3, 4]], "i": 5, "f": 0.5}


# -- 11. exactly one target -------------------------------------------------------------------------


@CLIENTS
@pytest.mark.parametrize(
    "targets",
    [{}, {"version": "v", "model": ECHO}, {"model": ECHO, "deployment": DEPLOYMENT}],
    ids=["none", "two", "other two"],
)
def test_exactly_one_target(replicate: ModuleType, fake: FakeReplicate, targets: Dict[str, Any]) -> None:
    with pytest.raises(ValueError) as info:
        client_of(replicate, fake).predictions.create(input={}, **targets)
    assert str(info.value) == "Exactly one of 'model', 'version', or 'deployment' must be specified."
    assert fake.requests == []


# -- 12. stream() asks for a stream ------------------------------------------------------------------


@CLIENTS
def test_stream_sends_stream_true(replicate: ModuleType, fake: FakeReplicate) -> None:
    events = client_of(replicate, fake).stream("replicate-min/tokens", input={"prompt": "one two"})
    assert "".join(str(event) for event in events) == "one two"
    create = next(r for r in fake.requests if r.method == "POST")
    assert create.json()["stream"] is True and create.path == "/v1/models/replicate-min/tokens/predictions"


@CLIENTS
def test_stream_events_by_type(replicate: ModuleType, fake: FakeReplicate) -> None:
    ServerSentEvent = importlib.import_module(f"{replicate.__name__}.stream").ServerSentEvent
    events = list(client_of(replicate, fake).stream("replicate-min/tokens", input={"prompt": "x y"}))
    output = [event.data for event in events if event.event == ServerSentEvent.EventType.OUTPUT]
    assert output == ["x", " y"] and events[-1].event == ServerSentEvent.EventType.DONE


@CLIENTS
def test_deliberate_difference_wait_on_a_model_create(replicate: ModuleType, fake: FakeReplicate) -> None:
    # The official predictions.create(model=...) drops wait= before delegating (its
    # models.predictions.create keeps it); replicate_min sends Prefer: wait on every path.
    client_of(replicate, fake).predictions.create(model=ECHO, input={"prompt": "w"}, wait=True)
    assert fake.requests[-1].headers.get("prefer") == (None if replicate is official else "wait")


# -- read-only models and versions (programs from the wild) --------------------------------------


@CLIENTS
def test_a_version_fetched_by_id_is_passed_on_to_create(replicate: ModuleType, fake: FakeReplicate) -> None:
    # The pattern of five real programs: models.get(...).versions.get(id), then create(version=...).
    client = client_of(replicate, fake)
    model = client.models.get(ECHO)
    version = model.versions.get(fake.version_of(ECHO))
    assert version.id == fake.version_of(ECHO) and version.openapi_schema is not None
    prediction = client.predictions.create(version=version, input={"prompt": "v"})
    prediction.wait()
    assert prediction.output == "v"


@CLIENTS
def test_latest_version_and_the_async_twins(replicate: ModuleType, fake: FakeReplicate) -> None:
    client = client_of(replicate, fake)
    latest = client.models.get(ECHO).latest_version
    assert latest is not None and latest.id == fake.version_of(ECHO)
    assert isinstance(latest, replicate.version.Version)  # used as a type by real programs

    async def main() -> str:
        model = await client.models.async_get(ECHO)
        version = await model.versions.async_get(fake.version_of(ECHO))
        return str(version.id)

    assert asyncio.run(main()) == fake.version_of(ECHO)


# -- issue 20.3: the files namespace as the official tests call it -------------------------


@CLIENTS
def test_files_create_from_a_str_path_list_get_delete(
    replicate: ModuleType, fake: FakeReplicate, tmp_path: Path
) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"file body")
    client = client_of(replicate, fake)
    created = client.files.create(str(path), metadata={"purpose": "test"})
    assert (created.name, created.size, created.content_type) == ("notes.txt", 9, "text/plain")
    assert created.metadata == {"purpose": "test"}
    listed = client.files.list()
    assert isinstance(listed, list) and [f.id for f in listed] == [created.id]
    assert client.files.get(created.id).id == created.id
    assert client.files.delete(created.id) is True
    assert client.files.list() == []

    async def main() -> List[Any]:
        made = await client.files.async_create(path)
        listed = await client.files.async_list()
        gone = await client.files.async_delete(made.id)
        return [listed[0].name, gone]

    try:
        assert asyncio.run(main()) == ["notes.txt", True]
    finally:
        getattr(client, "close", lambda: None)()
