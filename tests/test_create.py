"""``CreateRequest`` and the parity of every create entry point.

Every entry point takes the same option names, each async twin has its sync twin's
signature, and every option reaches the server (read off the fake's recorded request)
from every entry point: a forwarder that forgets an option fails here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest

import replicate_min
from replicate_min import Client
from replicate_min._create import CreateRequest, fit_hold, parse_ref
from replicate_min._deployments import DeploymentPredictions, DeploymentsPredictions, ModelsPredictions
from replicate_min._prediction import Predictions
from replicate_min.testing import FakeReplicate

ECHO = "replicate-min/echo"
DEPLOYMENT = "replicate-min/echo-deployment"
VERSION = "ab" * 32

#: The options every create takes, and what each must put on the wire.
SHARED = {
    "webhook": "https://example.com/hook",
    "webhook_completed": "https://example.com/done",
    "webhook_events_filter": ["completed", "start"],
    "cancel_after": "90s",
    "file_encoding_strategy": "url",
}
CREATE_OPTIONS = {**SHARED, "stream": True, "wait": 5}
RUN_OPTIONS = {**SHARED, "wait": 5, "stream": True}  # run(stream=True): sent, as the official client does
STREAM_OPTIONS = dict(SHARED)

# -- the same names everywhere ----------------------------------------------------------

CREATES: List[Callable[..., Any]] = [
    Predictions.create,
    ModelsPredictions.create,
    DeploymentsPredictions.create,
    DeploymentPredictions.create,
]
RUNS: List[Callable[..., Any]] = [Client.run, replicate_min.run]
STREAMS: List[Callable[..., Any]] = [Client.stream, replicate_min.stream]


def _keywords(function: Callable[..., Any]) -> set[str]:
    return {name for name in inspect.signature(function).parameters if name != "self"}


@pytest.mark.parametrize("function", CREATES + RUNS + STREAMS, ids=lambda f: f.__qualname__)
def test_every_entry_point_takes_the_shared_options(function: Callable[..., Any]) -> None:
    assert set(SHARED) | {"input"} <= _keywords(function)


@pytest.mark.parametrize("function", CREATES, ids=lambda f: f.__qualname__)
def test_every_create_takes_the_options_of_predictions_create(function: Callable[..., Any]) -> None:
    targets = {"version", "model", "deployment"}
    assert _keywords(function) - targets == _keywords(Predictions.create) - targets
    fields = {item.name for item in dataclasses.fields(CreateRequest)}
    assert _keywords(Predictions.create) == fields  # and CreateRequest holds exactly those


@pytest.mark.parametrize("group", [RUNS, STREAMS], ids=["run", "stream"])
def test_the_module_functions_take_the_clients_arguments(group: List[Callable[..., Any]]) -> None:
    method, function = group
    assert (
        list(inspect.signature(function).parameters.values()) == list(inspect.signature(method).parameters.values())[1:]
    )


TWINS: List[Tuple[Any, str]] = [
    *((cls, "create") for cls in (Predictions, ModelsPredictions, DeploymentsPredictions, DeploymentPredictions)),
    (Client, "run"),
    (Client, "stream"),
    (replicate_min, "run"),
    (replicate_min, "stream"),
]


@pytest.mark.parametrize(("owner", "name"), TWINS, ids=lambda x: getattr(x, "__name__", x))
def test_every_async_twin_has_its_sync_twins_signature(owner: Any, name: str) -> None:
    sync = inspect.signature(getattr(owner, name))
    twin = inspect.signature(getattr(owner, f"async_{name}"))
    assert list(twin.parameters.values()) == list(sync.parameters.values())


# -- every option reaches the server from every entry point -----------------------------


@pytest.fixture
def env(fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    monkeypatch.setenv("REPLICATE_API_TOKEN", fake.token)
    monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)
    monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "0.01")
    with Client(api_token=fake.token, base_url=fake.base_url, poll_interval=0.01) as client:
        yield client


def _sync(make: Callable[[Client], Callable[..., Any]]) -> Callable[[Client, Dict[str, Any]], Any]:
    return lambda client, options: make(client)(input={"file": b"x"}, **options)


def _async(make: Callable[[Client], Callable[..., Any]]) -> Callable[[Client, Dict[str, Any]], Any]:
    async def call(client: Client, options: Dict[str, Any]) -> Any:
        result = make(client)(input={"file": b"x"}, **options)
        return await result

    return lambda client, options: asyncio.run(call(client, options))


def _drain(stream: Any) -> None:
    for _ in stream:
        pass


def _adrain(make: Callable[[Client], Callable[..., Any]]) -> Callable[[Client, Dict[str, Any]], Any]:
    async def call(client: Client, options: Dict[str, Any]) -> None:
        async for _ in make(client)(ECHO, input={"file": b"x"}, **options):
            pass

    return lambda client, options: asyncio.run(call(client, options))


ENTRY_POINTS: Dict[str, Tuple[Callable[[Client, Dict[str, Any]], Any], Dict[str, Any], bool]] = {
    # name: (call, options, streams)
    "predictions.create(model=)": (
        _sync(lambda c: lambda **o: c.predictions.create(model=ECHO, **o)),
        CREATE_OPTIONS,
        True,
    ),
    "predictions.create(version=)": (
        _sync(lambda c: lambda **o: c.predictions.create(version=VERSION, **o)),
        CREATE_OPTIONS,
        True,
    ),
    "module predictions.create": (
        _sync(lambda c: lambda **o: replicate_min.predictions.create(model=ECHO, **o)),
        CREATE_OPTIONS,
        True,
    ),
    "models.predictions.create": (
        _sync(lambda c: lambda **o: c.models.predictions.create(ECHO, **o)),
        CREATE_OPTIONS,
        True,
    ),
    "deployments.predictions.create": (
        _sync(lambda c: lambda **o: c.deployments.predictions.create(DEPLOYMENT, **o)),
        CREATE_OPTIONS,
        True,
    ),
    "deployments.get().predictions.create": (
        _sync(lambda c: c.deployments.get(DEPLOYMENT).predictions.create),
        CREATE_OPTIONS,
        True,
    ),
    "predictions.async_create": (
        _async(lambda c: lambda **o: c.predictions.async_create(model=ECHO, **o)),
        CREATE_OPTIONS,
        True,
    ),
    "models.predictions.async_create": (
        _async(lambda c: lambda **o: c.models.predictions.async_create(ECHO, **o)),
        CREATE_OPTIONS,
        True,
    ),
    "deployments.predictions.async_create": (
        _async(lambda c: lambda **o: c.deployments.predictions.async_create(DEPLOYMENT, **o)),
        CREATE_OPTIONS,
        True,
    ),
    "deployments.get().predictions.async_create": (
        _async(lambda c: c.deployments.get(DEPLOYMENT).predictions.async_create),
        CREATE_OPTIONS,
        True,
    ),
    "Client.run": (_sync(lambda c: lambda **o: c.run(ECHO, **o)), RUN_OPTIONS, True),
    "run": (_sync(lambda c: lambda **o: replicate_min.run(ECHO, **o)), RUN_OPTIONS, True),
    "Client.async_run": (_async(lambda c: lambda **o: c.async_run(ECHO, **o)), RUN_OPTIONS, True),
    "async_run": (_async(lambda c: lambda **o: replicate_min.async_run(ECHO, **o)), RUN_OPTIONS, True),
    "Client.stream": (lambda c, o: _drain(c.stream(ECHO, input={"file": b"x"}, **o)), STREAM_OPTIONS, True),
    "stream": (lambda c, o: _drain(replicate_min.stream(ECHO, input={"file": b"x"}, **o)), STREAM_OPTIONS, True),
    "Client.async_stream": (_adrain(lambda c: c.async_stream), STREAM_OPTIONS, True),
    "async_stream": (_adrain(lambda c: replicate_min.async_stream), STREAM_OPTIONS, True),
}


@pytest.mark.parametrize("name", list(ENTRY_POINTS))
def test_every_option_reaches_the_server_from_every_entry_point(name: str, env: Client, fake: FakeReplicate) -> None:
    fake.add_model("replicate-min/pinned", lambda inputs: "ok", version=VERSION)
    call, options, streams = ENTRY_POINTS[name]
    call(env, options)
    creates = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/predictions")]
    uploads = [r for r in fake.requests if r.method == "POST" and r.path == "/v1/files"]
    assert len(creates) == 1 and len(uploads) == 1  # file_encoding_strategy="url": the file was uploaded
    create = creates[0]
    body = create.json()
    assert body["webhook"] == SHARED["webhook"]
    assert body["webhook_completed"] == SHARED["webhook_completed"]
    assert body["webhook_events_filter"] == SHARED["webhook_events_filter"]
    assert create.headers["cancel-after"] == "90s"
    assert body["input"]["file"].startswith(fake.base_url)  # an uploaded file's URL, not a data: URL
    assert body.get("stream") is (True if streams else None)
    assert create.headers.get("prefer") == ("wait=5" if "wait" in options else None)


# -- CreateRequest itself ----------------------------------------------------------------


def test_a_request_normalizes_its_target() -> None:
    class Version:
        id = "AB" * 32

    class Model:
        owner, name = "o", "n"

    assert CreateRequest(version=Version()).version == "ab" * 32
    assert CreateRequest(version="AB" * 32).path == "/v1/predictions"
    assert CreateRequest(model=Model()).path == "/v1/models/o/n/predictions"
    assert CreateRequest(deployment=("o", "n")).path == "/v1/deployments/o/n/predictions"
    assert parse_ref(Model()) == {"model": "o/n"}
    assert parse_ref(Version()) == {"version": "ab" * 32}
    request = CreateRequest(model="o/n", webhook_events_filter=iter(["start"]))
    assert request.webhook_events_filter == ("start",) and request.body({})["webhook_events_filter"] == ["start"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.model = "x/y"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fields", "kind", "named"),
    [
        ({"model": "o/n", "webhook": "https://"}, ValueError, "webhook"),
        ({"model": "o/n", "webhook": "https://exa mple.com/"}, ValueError, "webhook"),
        ({"model": "o/n", "webhook": "https://%0d%0a.example.com/"}, ValueError, "webhook"),
        ({"model": "o/n", "webhook_completed": "https://:443/"}, ValueError, "webhook_completed"),
        ({"model": "o/n", "webhook": "https://example.com:99999/"}, ValueError, "webhook"),
        ({"model": "o/n", "webhook_events_filter": 5}, TypeError, "webhook_events_filter"),
        ({"model": "o/n", "file_encoding_strategy": "zip"}, ValueError, "file_encoding_strategy"),
        ({"model": "o/n", "wait": 61}, ValueError, "wait"),
        ({"model": "o/n", "cancel_after": 1}, ValueError, "cancel_after"),
        ({"version": object()}, TypeError, "version"),
        ({"version": "a\nb"}, ValueError, "version"),
        ({}, ValueError, "Exactly one"),
    ],
)
def test_a_bad_field_is_named(fields: Dict[str, Any], kind: type, named: str) -> None:
    with pytest.raises(kind, match=named):  # type: ignore[arg-type]
        CreateRequest(**fields)


def test_webhook_without_a_host_is_refused_before_sending(client: Client, fake: FakeReplicate) -> None:
    with pytest.raises(ValueError, match="webhook"):
        client.predictions.create(model=ECHO, webhook="https://")
    assert not [r for r in fake.requests if r.method == "POST"]


@pytest.mark.parametrize(
    ("wait", "timeout", "hold"),
    [
        (True, None, True),
        (True, 10.5, 10),
        (True, 100, 60),
        (30, 10, 10),
        (5, 100, 5),
        (True, 0.5, False),
        (False, 9, False),
    ],
)
def test_the_hold_fits_inside_the_timeout(wait: Any, timeout: Any, hold: Any) -> None:
    assert fit_hold(wait, timeout) == hold
    assert CreateRequest.for_ref("o/n", None, wait=wait, timeout=timeout).wait == hold


# -- the official client's extra run()/stream() keywords -----------------------------------

OFFICIAL_EXTRAS: Dict[str, Callable[..., Any]] = {
    "Client.run": lambda c, **o: c.run(ECHO, input={"prompt": "a"}, **o),
    "run": lambda c, **o: replicate_min.run(ECHO, input={"prompt": "a"}, **o),
    "Client.async_run": lambda c, **o: asyncio.run(c.async_run(ECHO, input={"prompt": "a"}, **o)),
    "async_run": lambda c, **o: asyncio.run(replicate_min.async_run(ECHO, input={"prompt": "a"}, **o)),
    "Client.stream": lambda c, **o: _drain(c.stream(ECHO, input={"prompt": "a"}, **o)),
    "stream": lambda c, **o: _drain(replicate_min.stream(ECHO, input={"prompt": "a"}, **o)),
    "Client.async_stream": lambda c, **o: asyncio.run(_aiterate(c.async_stream(ECHO, input={"prompt": "a"}, **o))),
    "async_stream": lambda c, **o: asyncio.run(_aiterate(replicate_min.async_stream(ECHO, input={"prompt": "a"}, **o))),
}


async def _aiterate(stream: Any) -> None:
    async for _ in stream:
        pass


@pytest.mark.parametrize("name", list(OFFICIAL_EXTRAS))
def test_the_official_clients_extra_keywords_are_accepted_and_each_named_in_a_warning(
    name: str, env: Client, fake: FakeReplicate
) -> None:
    with pytest.warns(UserWarning) as caught:
        OFFICIAL_EXTRAS[name](env, api_token="r8_someone_else", temperature=0.5)
    messages = [str(item.message) for item in caught if issubclass(item.category, UserWarning)]
    assert len(messages) == 2, messages
    token, other = messages
    assert "api_token" in token and "Client(api_token=...)" in token and "r8_someone_else" not in token
    assert "'temperature'" in other and "not sent" in other
    (create,) = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/predictions")]
    assert create.headers["authorization"] == f"Bearer {fake.token}"  # the client's token, not the keyword's
    assert set(create.json()) <= {"input", "stream"} and create.json()["input"] == {"prompt": "a"}


def test_predictions_create_stays_strict(env: Client) -> None:
    with pytest.raises(TypeError, match="api_token"):
        env.predictions.create(model=ECHO, api_token="x")  # type: ignore[call-arg]


def test_the_catch_all_keeps_type_hints_resolvable() -> None:
    import typing

    for function in (Client.run, Client.stream, replicate_min.run, replicate_min.async_stream):
        hints = typing.get_type_hints(function)
        assert hints["params"] is object


@pytest.mark.parametrize("wait", [float("inf"), float("nan"), [1], "5", 5.5, 0, 61, -1])
def test_run_checks_wait_before_fitting_it_into_the_timeout(client: Client, fake: FakeReplicate, wait: Any) -> None:
    with pytest.raises((TypeError, ValueError), match="wait"):
        client.run("replicate-min/echo", {"prompt": "x"}, wait=wait, timeout=10)
    with pytest.raises((TypeError, ValueError), match="wait"):
        fit_hold(wait, 10.0)
    assert not fake.requests


@pytest.mark.parametrize("events", [[["start"]], [{"a": 1}], [None], ("start", 5)])
def test_an_events_filter_of_non_names_is_a_type_error_naming_it(events: Any) -> None:
    with pytest.raises(TypeError, match="webhook_events_filter"):
        CreateRequest(model="a/b", webhook_events_filter=events)


class _Lying(str):
    def __str__(self) -> str:
        return "replicate-min/fail"

    def __format__(self, spec: str) -> str:
        return "replicate-min/fail"


class _LyingInt(int):
    def __str__(self) -> str:
        return "60, x"

    def __format__(self, spec: str) -> str:
        return "60, x"


def test_what_is_checked_is_what_is_sent_whatever_a_subclass_says(client: Client, fake: FakeReplicate) -> None:
    client.predictions.create(model=_Lying("replicate-min/echo"), input={"prompt": "x"}, wait=_LyingInt(5))
    create = [r for r in fake.requests if r.method == "POST"][-1]
    assert (create.path, create.headers.get("prefer")) == ("/v1/models/replicate-min/echo/predictions", "wait=5")
    created = client.predictions.list().results[0]
    client.predictions.get(_Lying(created.id))
    assert fake.requests[-1].path == f"/v1/predictions/{created.id}"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("wait", 10**5000),
        ("cancel_after", 10**5000),
        ("file_encoding_strategy", 10**5000),
        ("file_encoding_strategy", [1]),
    ],
    ids=["wait-huge", "cancel_after-huge", "strategy-huge", "strategy-list"],
)
def test_a_bad_option_is_named_whatever_its_value(name: str, value: Any) -> None:
    with pytest.raises((TypeError, ValueError), match=name):
        CreateRequest(model="a/b", **{name: value})


def test_an_events_filter_that_is_a_closed_file_is_a_type_error_naming_it() -> None:
    import io

    handle = io.StringIO("start")
    handle.close()
    with pytest.raises(TypeError, match="webhook_events_filter"):
        CreateRequest(model="a/b", webhook_events_filter=handle)
