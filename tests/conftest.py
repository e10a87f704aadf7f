from __future__ import annotations

import os
import signal
from typing import Iterator

import pytest

import replicate_min
from replicate_min._client import reset_default_client
from replicate_min.testing import FakeReplicate


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REPLICATE_API_TOKEN", "REPLICATE_BASE_URL", "REPLICATE_POLL_INTERVAL"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture(autouse=True)
def _fresh_default_client() -> Iterator[None]:
    """Each test starts with no default client, so it reads the environment the test sets."""
    reset_default_client()
    yield
    reset_default_client()


@pytest.fixture
def fake() -> Iterator[FakeReplicate]:
    with FakeReplicate(start_delay=0.02, step=0.01, keepalive_interval=0.2) as server:
        yield server


@pytest.fixture
def client(fake: FakeReplicate) -> Iterator[replicate_min.Client]:
    with replicate_min.Client(
        api_token=fake.token, base_url=fake.base_url, poll_interval=0.01, retry_backoff=0.01, timeout=10
    ) as c:
        yield c


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("PYTHONHASHSEED", "0")
    # A job started in the background by a non-interactive shell (`pytest ... &`, as a CI script
    # or a load test does) inherits SIGINT ignored, and an ignored signal stays ignored across
    # exec: the CLI subprocesses that tests interrupt with SIGINT (a Ctrl-C) would never see it
    # and hang. Tests start their children as a terminal would, with SIGINT delivered.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
