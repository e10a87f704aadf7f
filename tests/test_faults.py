"""Every public call, sync and async, against every fault the fake can inject.

Each case ends in its documented result (success after a retry, or a specific library
error), and the fake's create counter proves that no prediction
was ever created twice. The retry policy is in ``Transport.send`` and the README.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import pytest

from replicate_min import (
    APIConnectionError,
    APITimeoutError,
    Client,
    Prediction,
    ReplicateError,
    ValidationError,
)
from replicate_min.testing import FakeReplicate, ManualClock

ECHO = "replicate-min/echo"
HANG_TIMEOUT = 0.5  # the read timeout against a server that never answers
# Any other request is answered at once: its read timeout is only a safety net, long enough that a
# loaded machine (a request answered in 0.4 s instead of 0.01) never turns into a timeout error.
TIMEOUT = 30.0


@dataclass
class Call:
    name: str
    safe: bool  # may be repeated: GET or cancel
    method: str
    path: Callable[[Optional[Prediction]], str]
    setup: Callable[[Client], Optional[Prediction]]
    run: Callable[[Client, Optional[Prediction], bool], Any]


def _sync_or_async(sync: Callable[[], Any], coroutine: Callable[[], Any], use_async: bool) -> Any:
    return asyncio.run(coroutine()) if use_async else sync()


def _bound(prediction: Optional[Prediction], client: Client) -> Prediction:
    assert prediction is not None
    return prediction.bind(client)


def _created(model: str) -> Callable[[Client], Prediction]:
    return lambda client: client.predictions.create(model=model, input={"prompt": "x"})


CALLS = [
    Call(
        "predictions.create",
        False,
        "POST",
        lambda p: "/v1/models/",
        lambda c: None,
        lambda c, p, a: _sync_or_async(
            lambda: c.predictions.create(model=ECHO, input={}),
            lambda: c.predictions.async_create(model=ECHO, input={}),
            a,
        ),
    ),
    Call(
        "predictions.get",
        True,
        "GET",
        lambda p: f"/v1/predictions/{p.id}" if p else "",
        _created(ECHO),
        lambda c, p, a: _sync_or_async(
            lambda: c.predictions.get(p.id),  # type: ignore[union-attr]
            lambda: c.predictions.async_get(p.id),  # type: ignore[union-attr]
            a,
        ),
    ),
    Call(
        "predictions.list",
        True,
        "GET",
        lambda p: "/v1/predictions",
        lambda c: None,
        lambda c, p, a: _sync_or_async(lambda: c.predictions.list(), lambda: c.predictions.async_list(), a),
    ),
    Call(
        "predictions.cancel",
        True,
        "POST",
        lambda p: f"/v1/predictions/{p.id}/cancel" if p else "",
        _created("replicate-min/forever"),
        lambda c, p, a: _sync_or_async(
            lambda: c.predictions.cancel(p.id),  # type: ignore[union-attr]
            lambda: c.predictions.async_cancel(p.id),  # type: ignore[union-attr]
            a,
        ),
    ),
    Call(
        "Prediction.reload",
        True,
        "GET",
        lambda p: f"/v1/predictions/{p.id}" if p else "",
        _created(ECHO),
        lambda c, p, a: _sync_or_async(lambda: _bound(p, c).reload(), lambda: _bound(p, c).async_reload(), a),
    ),
    Call(
        "Prediction.cancel",
        True,
        "POST",
        lambda p: f"/v1/predictions/{p.id}/cancel" if p else "",
        _created("replicate-min/forever"),
        lambda c, p, a: _sync_or_async(lambda: _bound(p, c).cancel(), lambda: _bound(p, c).async_cancel(), a),
    ),
    Call(
        "Prediction.wait",
        True,
        "GET",
        lambda p: f"/v1/predictions/{p.id}" if p else "",
        _created(ECHO),
        lambda c, p, a: _sync_or_async(
            lambda: _bound(p, c).wait(timeout=10), lambda: _bound(p, c).async_wait(timeout=10), a
        ),
    ),
]

# fault -> (how to inject it, the result for a safe call, the result for a create)
OK = "ok"
FAULTS: dict[str, tuple[dict[str, Any], Any, Any]] = {
    "429": ({"status": 429}, OK, OK),
    "429 Retry-After": ({"status": 429, "headers": {"Retry-After": "0.05"}}, OK, OK),
    "500": ({"status": 500}, OK, ReplicateError),
    "502": ({"status": 502}, OK, ReplicateError),
    "503": ({"status": 503}, OK, ReplicateError),
    "504": ({"status": 504}, OK, ReplicateError),
    "HTML error page": ({"kind": "html", "status": 502}, OK, ReplicateError),
    "truncated JSON": ({"kind": "truncated"}, ValidationError, ValidationError),
    "JSON not an object": ({"kind": "not_object"}, ValidationError, ValidationError),
    "reset before sending": ({}, OK, OK),
    "reset after sending": ({"kind": "drop_after"}, OK, APIConnectionError),
    "never answers": ({"kind": "hang", "seconds": 3}, OK, APITimeoutError),
    "server down": ({}, APIConnectionError, APIConnectionError),
}


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[FakeReplicate]:
    # On a clock only the test moves: a prediction stays "starting" until the case lets it finish,
    # so a wait always reaches the fault injected on its poll, however slow the machine.
    with FakeReplicate(clock=ManualClock(), start_delay=0.01, step=0.01, keepalive_interval=0.2) as fake:
        yield fake


def _finish_once_the_fault_is_used(fake: FakeReplicate, clock: ManualClock) -> threading.Thread:
    """Advances the fake's clock (letting a waited prediction finish) once the injected fault is used."""

    def advance() -> None:
        while fake.pending_faults:
            time.sleep(0.005)  # polls a state, bounds nothing
        clock.advance(60)

    thread = threading.Thread(target=advance, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def dead_url() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: the port stays ours and refuses
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("call", CALLS, ids=[c.name for c in CALLS])
def test_fault(shared_fake: FakeReplicate, dead_url: str, call: Call, fault: str, use_async: bool) -> None:
    fake = shared_fake
    timeout = HANG_TIMEOUT if fault == "never answers" else TIMEOUT
    options = dict(poll_interval=0.01, retry_backoff=0.01, timeout=timeout, max_retries=2)
    client = Client(api_token=fake.token, base_url=fake.base_url, **options)  # type: ignore[arg-type]
    with Client(api_token=fake.token, base_url=fake.base_url, timeout=TIMEOUT) as setup_client:
        prediction = call.setup(setup_client)  # the setup is no part of the case: no short timeout
    inject, safe_result, create_result = FAULTS[fault]
    expected = safe_result if call.safe else create_result
    target = client
    if fault == "server down":
        target = Client(api_token=fake.token, base_url=dead_url, **options)  # type: ignore[arg-type]
    elif fault == "reset before sending":
        client.predictions.list()  # a pooled connection ...
        fake.reset_connections()  # ... that the server then closes
        time.sleep(0.05)
    else:
        fake.fail_next(**inject, method=call.method, path=call.path(prediction))
    creates_before = fake.creates
    posts_before = sum(1 for r in fake.requests if r.method == "POST")
    if call.name == "Prediction.wait":
        assert isinstance(fake.clock, ManualClock)
        _finish_once_the_fault_is_used(fake, fake.clock)
    try:
        if expected == OK:
            call.run(target, prediction, use_async)
        else:
            with pytest.raises(expected) as info:
                call.run(target, prediction, use_async)
            if expected is ReplicateError:
                assert info.value.status == inject["status"]
            if expected is APIConnectionError and fault == "server down":
                assert info.value.sent is False
    finally:
        client.close()
        target.close()
    assert fake.pending_faults == [], "the injected fault was never reached"
    created = fake.creates - creates_before
    if call.name == "predictions.create":
        posts = sum(1 for r in fake.requests if r.method == "POST") - posts_before
        assert created <= 1, "a prediction was created twice"
        assert created == (1 if expected in (OK, ValidationError) or fault == "reset after sending" else 0)
        if expected is not OK and fault != "server down":
            assert posts == 1, "a create that may have arrived was sent again"
    else:
        assert created == 0
