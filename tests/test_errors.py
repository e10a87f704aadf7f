"""Error mapping: API errors, bodies that are not JSON, and no stdlib exception escaping."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from replicate_min import (
    APIConnectionError,
    APITimeoutError,
    Client,
    ModelError,
    Prediction,
    ReplicateError,
    ReplicateException,
    ValidationError,
)
from replicate_min.testing import FakeReplicate


def test_a_problem_body_fills_every_field(client: Client, fake: FakeReplicate) -> None:
    body = {"type": "https://errors/x", "title": "Bad", "status": 418, "detail": "teapot", "instance": "/i/1"}
    fake.fail_next(status=418, body=body)
    with pytest.raises(ReplicateError) as info:
        client.predictions.list()
    error = info.value
    assert (error.status, error.type, error.title, error.detail, error.instance) == (
        418,
        "https://errors/x",
        "Bad",
        "teapot",
        "/i/1",
    )
    assert str(error) == (
        "ReplicateError Details:\ntype: https://errors/x\ntitle: Bad\nstatus: 418\ndetail: teapot\ninstance: /i/1"
    )
    assert error.to_dict()["detail"] == "teapot" and '"teapot"' in error.body


def test_status_is_the_http_status_not_the_body_field(client: Client, fake: FakeReplicate) -> None:
    fake.fail_next(status=400, body={"detail": "only detail", "status": "four hundred"})
    with pytest.raises(ReplicateError) as info:
        client.predictions.list()
    assert info.value.status == 400 and info.value.detail == "only detail" and info.value.title is None


def test_an_html_error_page_still_gives_status_and_excerpt(client: Client, fake: FakeReplicate) -> None:
    fake.fail_next("html", status=502, method="POST")
    with pytest.raises(ReplicateError) as info:
        client.predictions.create(model="replicate-min/echo", input={})
    assert info.value.status == 502
    assert info.value.detail is not None and "Bad Gateway" in info.value.detail
    assert fake.creates == 0


def test_an_empty_error_body(client: Client, fake: FakeReplicate) -> None:
    fake.fail_next(status=404, body=b"")
    with pytest.raises(ReplicateError) as info:
        client.predictions.get("x")
    assert info.value.status == 404 and info.value.detail is None


@pytest.mark.parametrize("kind", ["truncated", "not_object"])
def test_a_malformed_success_body_is_a_validation_error(client: Client, fake: FakeReplicate, kind: str) -> None:
    prediction = client.predictions.create(model="replicate-min/echo", input={})
    fake.fail_next(kind)
    with pytest.raises(ValidationError):
        client.predictions.get(prediction.id)


def test_a_server_that_is_down_gives_a_connection_error(fake: FakeReplicate) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: the port stays ours and refuses
        port = sock.getsockname()[1]
        client = Client(api_token="r8_x", base_url=f"http://127.0.0.1:{port}", max_retries=1, retry_backoff=0.01)
        with pytest.raises(APIConnectionError) as info:
            client.predictions.get("x")
    assert info.value.sent is False
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


def test_a_server_that_never_answers_times_out(fake: FakeReplicate) -> None:
    client = Client(api_token=fake.token, base_url=fake.base_url, timeout=0.3, max_retries=0)
    fake.fail_next("hang", seconds=5)
    with pytest.raises(APITimeoutError) as info:
        client.predictions.list()
    assert info.value.sent is True and isinstance(info.value, APIConnectionError)
    client.close()


def test_a_dropped_connection_gives_a_connection_error(fake: FakeReplicate) -> None:
    client = Client(api_token=fake.token, base_url=fake.base_url, max_retries=0)
    fake.fail_next("drop")
    with pytest.raises(APIConnectionError) as info:
        client.predictions.list()
    assert info.value.sent is True
    client.close()


def test_a_reply_that_is_not_http(fake: FakeReplicate) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        client = Client(api_token="r8_x", base_url=f"http://127.0.0.1:{server.getsockname()[1]}", max_retries=0)
        import threading

        def answer() -> None:
            conn, _ = server.accept()
            conn.recv(65536)
            conn.sendall(b"SSH-2.0-OpenSSH_9.0\r\n\r\n")
            conn.close()

        threading.Thread(target=answer, daemon=True).start()
        with pytest.raises(APIConnectionError, match="not valid HTTP"):
            client.predictions.list()


def test_model_error_carries_the_prediction() -> None:
    prediction = Prediction(id="p", status="failed", error="out of memory")
    error = ModelError(prediction)
    assert error.prediction is prediction and str(error) == "out of memory"
    assert str(ModelError(Prediction(id="p", status="failed"))) == "prediction p failed"


@pytest.mark.parametrize("cls", [ReplicateError, ModelError, APIConnectionError, ValidationError])
def test_every_error_is_a_replicate_exception(cls: Any) -> None:
    assert issubclass(cls, ReplicateException)


# -- every error is exported, drawn, and crosses a process boundary by its class ----------------


def _library_errors() -> set[type]:
    from replicate_min import _exceptions

    return {
        value
        for value in vars(_exceptions).values()
        if isinstance(value, type)
        and issubclass(value, ReplicateException)
        and value.__module__ == _exceptions.__name__
    }


def _examples() -> list[ReplicateException]:
    from replicate_min import exceptions as e

    failed = Prediction(id="p1", status="failed", error="out of memory")
    return [
        e.ReplicateException("base"),
        e.ReplicateError(type="t", title="Bad", status=422, detail="no", instance="/i", body="{}"),
        e.ModelError(failed),
        e.PredictionCanceledError(Prediction(id="p2", status="canceled")),
        e.APIConnectionError("down", sent=False),
        e.APITimeoutError("slow", sent=True),
        e.ResponseTooLargeError("big", sent=True),
        e.WaitTimeoutError("late", Prediction(id="p3", status="processing")),
        e.ValidationError("bad body", field="id", value=".."),
        e.StreamError("broke", detail="oom"),
        e.BatchError("row 3: not an object"),
        e.JournalMismatchError("another batch's journal"),
        e.WebhookError("no"),
        e.MissingWebhookHeaderError("no header"),
        e.MissingWebhookBodyError("no body"),
        e.InvalidSecretKeyError("bad key"),
        e.InvalidTimestampError("stale"),
        e.InvalidSignatureError("forged"),
    ]


def test_every_error_is_in_the_pickling_examples() -> None:
    assert {type(error) for error in _examples()} == _library_errors()


@pytest.mark.parametrize("error", _examples(), ids=lambda e: type(e).__name__)
def test_every_error_pickles_with_its_class_message_and_attributes(error: ReplicateException) -> None:
    import pickle

    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error) and copy.args == error.args
    for name, value in vars(error).items():
        if name == "prediction":
            assert (copy.prediction.id, copy.prediction.status, copy.prediction.error) == (
                value.id,
                value.status,
                value.error,
            )
        else:
            assert getattr(copy, name) == value, name


def _fail_in_worker(token: str, base_url: str) -> None:  # module level: a spawned worker imports it
    import replicate_min

    replicate_min.Client(api_token=token, base_url=base_url, poll_interval=0.01).run("replicate-min/fail")


def test_a_model_error_in_a_spawn_pool_worker_is_caught_by_its_class(fake: FakeReplicate) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        future = pool.submit(_fail_in_worker, fake.token, fake.base_url)
        with pytest.raises(ModelError) as info:
            future.result()
        assert pool.submit(len, "alive").result() == 5  # the pool survived the error
    assert info.value.prediction.id == fake.predictions_created[-1].id
    assert info.value.prediction.status == "failed"


# -- the public error tree ----------------------------------------------------------------


def _drawn_tree(doc: str) -> dict[str, str]:
    """``{class: parent}`` from a docstring's box-drawn hierarchy (the root's parent is "")."""
    import re

    parents: dict[str, str] = {}
    stack: list[str] = []
    for line in doc.splitlines():
        match = re.match(r"^    ((?:[│ ]   )*)(?:[├└]── )?([A-Z]\w+)\s", line)
        if match is None or not (match.group(2).endswith(("Error", "Exception"))):
            continue
        depth = len(match.group(1)) // 4 + (1 if "──" in line[: line.index(match.group(2))] else 0)
        del stack[depth:]
        parents[match.group(2)] = stack[-1] if stack else ""
        stack.append(match.group(2))
    return parents


def _library_errors() -> set[type]:
    import importlib
    import pkgutil

    import replicate_min

    for module in pkgutil.iter_modules(replicate_min.__path__):
        importlib.import_module(f"replicate_min.{module.name}")
    found: set[type] = set()
    todo = [ReplicateException]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("replicate_min") and cls not in found:
            found.add(cls)
            todo.extend(cls.__subclasses__())
    return found


def test_the_exceptions_module_draws_exports_and_defines_the_same_tree() -> None:
    from replicate_min import exceptions

    tree = _drawn_tree(exceptions.__doc__ or "")
    real = {cls.__name__: cls for cls in _library_errors()}
    # The one alias: the official client's name for the webhook errors' base, exported too.
    aliases = {name for name in exceptions.__all__ if getattr(exceptions, name).__name__ != name}
    assert aliases == {"WebhookValidationError"} and exceptions.WebhookValidationError is real["WebhookError"]
    assert set(tree) == set(exceptions.__all__) - aliases == set(real)  # every library error, drawn and exported
    for name, parent in tree.items():
        assert getattr(exceptions, name) is real[name]
        bases = [base.__name__ for base in real[name].__bases__ if issubclass(base, ReplicateException)]
        assert bases == ([parent] if parent else []), name


def test_a_401_names_the_token_variable(fake: FakeReplicate) -> None:
    client = Client(api_token="r8_wrong", base_url=fake.base_url)
    with pytest.raises(ReplicateError) as info:
        client.predictions.list()
    assert info.value.status == 401 and "REPLICATE_API_TOKEN" in str(info.value)
    assert "r8_wrong" not in str(info.value)


@pytest.mark.parametrize("token", ['"r8_abcdef"', "'r8_abcdef'"])
def test_a_token_pasted_with_its_quotes_is_refused_without_showing_it(token: str) -> None:
    with pytest.raises(ValueError, match="quotes") as info:
        Client(api_token=token)
    assert "abcdef" not in str(info.value)


def test_an_excerpt_of_a_value_whose_repr_fails_still_names_its_type() -> None:
    from replicate_min._exceptions import excerpt

    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert excerpt(Hostile()) == "<Hostile that cannot be shown>"
    assert excerpt(10**5000) == "<int that cannot be shown>"  # past str()'s digit limit (3.11+)
    assert len(excerpt("x" * 1000)) == 80
