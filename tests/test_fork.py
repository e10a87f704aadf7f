"""Forked children share nothing with their parent: no pooled socket, no worker count, no watchdog.

Each case forks for real (``os.fork``, and a fork-context ``ProcessPoolExecutor``) after the
parent has warmed what a child could inherit: a keep-alive connection, an idle async worker,
the deadline watchdog. A child reports through a pipe; a child that hung would hang its
``waitpid``, and the test's timeout would fail it.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, Dict, List

import pytest

import replicate_min
from replicate_min import APITimeoutError, Client, Prediction, WaitTimeoutError
from replicate_min._client import reset_default_client
from replicate_min.testing import FakeReplicate
from tests.hostile.rawserver import Conn, RawServer

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only"),
    # 3.12+ warns that forking a process with threads (the fake's) may deadlock the child:
    # exactly what this library must make safe.
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

ECHO = "replicate-min/echo"


def _in_child(work: Callable[[], Any]) -> int:
    """Forks; the child runs ``work`` and writes its JSON result (or error) to a pipe. Returns the pid
    and read end as one: ``_collect`` reads it."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        signal.alarm(120)  # a safety net: a hung child is killed rather than left behind
        try:
            result: Dict[str, Any] = {"ok": work()}
        except BaseException as exc:
            result = {"error": f"{type(exc).__name__}: {exc}"}
        os.write(write, json.dumps(result).encode())
        os._exit(0)
    os.close(write)
    _CHILDREN[pid] = read
    return pid


_CHILDREN: Dict[int, int] = {}


def _collect(pid: int) -> Any:
    read = _CHILDREN.pop(pid)
    chunks = []
    while True:
        chunk = os.read(read, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert status == 0, status
    result = json.loads(b"".join(chunks))
    assert "error" not in result, result["error"]
    return result["ok"]


def _echo(client: Client, prompt: str) -> Any:
    return client.run(ECHO, {"prompt": prompt})


def test_children_and_parent_each_get_their_own_answers_after_a_fork(fake: FakeReplicate) -> None:
    client = Client(api_token=fake.token, base_url=fake.base_url, poll_interval=0.01)
    assert _echo(client, "warm") == "warm"  # a keep-alive connection now sits in the pool

    def child(number: int) -> Callable[[], List[Any]]:
        return lambda: [_echo(client, f"child-{number}-{i}") for i in range(4)]

    pids = [_in_child(child(n)) for n in range(4)]
    parent = [_echo(client, f"parent-{i}") for i in range(8)]  # while the children run
    results = [_collect(pid) for pid in pids]
    assert parent == [f"parent-{i}" for i in range(8)]
    assert results == [[f"child-{n}-{i}" for i in range(4)] for n in range(4)]
    assert _echo(client, "after") == "after"
    client.close()


def test_the_default_client_is_fork_safe(fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICATE_API_TOKEN", fake.token)
    monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)
    reset_default_client()
    assert replicate_min.run(ECHO, input={"prompt": "warm"}) == "warm"
    pids = [_in_child(lambda n=n: replicate_min.run(ECHO, input={"prompt": f"c{n}"})) for n in range(3)]
    assert [replicate_min.run(ECHO, input={"prompt": f"p{i}"}) for i in range(3)] == ["p0", "p1", "p2"]
    assert [_collect(pid) for pid in pids] == ["c0", "c1", "c2"]


def _run_echo(prompt: str) -> Any:  # module level: a pool's workers look it up by name
    return replicate_min.run(ECHO, input={"prompt": prompt})


def test_a_fork_pool_maps_run_with_every_answer_right(fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICATE_API_TOKEN", fake.token)
    monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)
    reset_default_client()
    assert _run_echo("warm") == "warm"
    prompts = [f"prompt-{i}" for i in range(16)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, as above
        with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("fork")) as pool:
            assert list(pool.map(_run_echo, prompts)) == prompts


def test_async_calls_work_in_a_child_forked_after_async_calls(fake: FakeReplicate) -> None:
    client = Client(api_token=fake.token, base_url=fake.base_url, poll_interval=0.01)
    created = asyncio.run(client.predictions.async_create(model=ECHO, input={"prompt": "a"}))
    assert client.requester.workers.threads == 1  # an idle worker the child will not have

    async def in_child() -> str:
        got = await client.predictions.async_get(created.id)
        return got.id

    pid = _in_child(lambda: asyncio.run(in_child()))
    assert _collect(pid) == created.id
    client.close()


def test_the_deadline_holds_in_a_child_forked_after_the_watchdog_started(fake: FakeReplicate) -> None:
    client = Client(api_token=fake.token, base_url=fake.base_url, poll_interval=0.01)
    client.run(ECHO, {"prompt": "x"}, timeout=60)  # a call with a deadline starts the watchdog

    def dribble(conn: Conn) -> None:  # a byte every 0.2 s, for far longer than the test's timeout
        if conn.read_request() is None:
            return
        conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
        while not conn.wait(0.2) and conn.send(b" "):
            pass

    server = RawServer(dribble)
    try:
        dribbling = Client(api_token="r8_x", base_url=server.url, timeout=5, max_retries=0)

        def wait() -> str:
            try:
                Prediction(id="abc", status="processing").bind(dribbling).wait(timeout=1)
            except (WaitTimeoutError, APITimeoutError) as exc:
                return type(exc).__name__
            return "no timeout"

        assert _collect(_in_child(wait)) == "WaitTimeoutError"
    finally:
        server.close()
        client.close()


def test_a_child_opens_its_own_connection_and_leaves_the_parents_alone(fake: FakeReplicate) -> None:
    client = Client(api_token=fake.token, base_url=fake.base_url)
    client.predictions.list()
    before = fake.connections
    assert _collect(_in_child(lambda: client.predictions.list().next)) is None
    assert fake.connections == before + 1  # the child's own; it did not take the parent's
    client.predictions.list()  # the parent's pooled connection still serves the parent
    assert fake.connections == before + 1
    client.close()
