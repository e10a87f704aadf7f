"""Transport: keep-alive, concurrency, retries, timeouts, redirects, TLS, proxies, logging."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import socket
import ssl
import threading
import time
from typing import Any, Iterator

import pytest

from replicate_min import APIConnectionError, APITimeoutError, Client, ReplicateError
from replicate_min.testing import FakeReplicate
from tests.proxy import ALIAS, Proxy, aliased

ECHO = "replicate-min/echo"


# -- connections -------------------------------------------------------------------


def test_thirty_sequential_gets_use_one_connection(client: Client, fake: FakeReplicate) -> None:
    prediction = client.predictions.create(model=ECHO, input={})
    for _ in range(30):
        client.predictions.get(prediction.id)
    assert fake.connections == 1


def test_a_dropped_client_closes_its_pooled_connections(fake: FakeReplicate) -> None:
    import gc
    import warnings

    for _ in range(20):  # the cycle collector's order varies: give it many chances to go wrong
        client = Client(api_token=fake.token, base_url=fake.base_url)
        client.predictions.list()
        del client
        with warnings.catch_warnings():
            warnings.simplefilter("error", ResourceWarning)
            gc.collect()
    assert wait_for(lambda: fake.open_connections == 0)


def wait_for(condition: Any, seconds: float = 60.0) -> bool:
    """Waits for the fake to see what the client did; ``seconds`` is a safety net only."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and not condition():
        time.sleep(0.02)
    return bool(condition())


def test_a_connection_the_server_closed_is_replaced_for_gets_and_creates(client: Client, fake: FakeReplicate) -> None:
    prediction = client.predictions.create(model=ECHO, input={})
    for call in (
        lambda: client.predictions.get(prediction.id),
        lambda: client.predictions.create(model=ECHO, input={}),
    ):
        fake.reset_connections()
        time.sleep(0.05)
        call()
    assert fake.creates == 2 and fake.connections == 3


def test_one_client_shared_by_sixteen_threads(fake: FakeReplicate) -> None:
    client = Client(api_token=fake.token, base_url=fake.base_url)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                prediction = client.predictions.create(model=ECHO, input={"prompt": "x"})
                assert client.predictions.get(prediction.id).id == prediction.id
        except BaseException as exc:  # collected, then asserted on
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert fake.creates == 80
    assert fake.connections <= 16
    client.close()


def test_one_client_shared_by_a_hundred_tasks(fake: FakeReplicate) -> None:
    client = Client(api_token=fake.token, base_url=fake.base_url)

    async def one(i: int) -> str:
        prediction = await client.predictions.async_create(model=ECHO, input={"prompt": str(i)})
        return (await client.predictions.async_get(prediction.id)).input["prompt"]  # type: ignore[index]

    async def main() -> list[str]:
        return await asyncio.gather(*(one(i) for i in range(100)))

    assert asyncio.run(main()) == [str(i) for i in range(100)]
    assert fake.creates == 100
    assert fake.connections <= client.max_concurrency  # bounded by the workers, not by the tasks


def test_max_concurrency_bounds_the_connections_of_async_calls(fake: FakeReplicate) -> None:
    client = Client(api_token=fake.token, base_url=fake.base_url, max_concurrency=4)

    async def main() -> None:
        await asyncio.gather(*(client.predictions.async_create(model=ECHO, input={"prompt": "x"}) for _ in range(40)))

    asyncio.run(main())
    assert fake.creates == 40 and fake.connections <= 4
    client.close()
    client.close()


# -- retries -------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Retry-After": "0"}, {"Retry-After": "0.1"}])
def test_429_is_retried_even_for_a_create(client: Client, fake: FakeReplicate, headers: dict[str, str]) -> None:
    fake.fail_next(status=429, headers=headers, body={"detail": "Request was throttled."}, method="POST")
    prediction = client.predictions.create(model=ECHO, input={"prompt": "x"})
    assert prediction.input == {"prompt": "x"}
    assert fake.creates == 1 and len(fake.requests) == 2


class _SleepRecorder:
    """The transport's ``time`` module, whose ``sleep`` records the delay instead of sleeping."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def retry_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays the transport waits between attempts, recorded rather than slept: a test checks
    the waits themselves, not the wall clock (which a loaded machine stretches)."""
    from replicate_min import _transport

    recorder = _SleepRecorder()
    monkeypatch.setattr(_transport, "time", recorder)
    return recorder.slept


def test_retry_after_as_an_http_date_is_honoured(
    client: Client, fake: FakeReplicate, retry_sleeps: list[float]
) -> None:
    # a date 2 s ahead, to the whole second: between 1 and 2 s from now
    fake.fail_next(status=429, headers={"Retry-After": email.utils.formatdate(time.time() + 2, usegmt=True)})
    client.predictions.list()
    [delay] = retry_sleeps
    assert 0.9 <= delay <= 2
    assert len(fake.requests) == 2


def test_a_body_retry_after_is_honoured(client: Client, fake: FakeReplicate, retry_sleeps: list[float]) -> None:
    fake.fail_next(status=429, body={"detail": "Request was throttled.", "retry_after": 1})
    client.predictions.list()
    [delay] = retry_sleeps
    assert 0.9 <= delay <= 1.1
    assert len(fake.requests) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_gets_lists_and_cancels_are_retried_on_5xx(client: Client, fake: FakeReplicate, status: int) -> None:
    prediction = client.predictions.create(model="replicate-min/forever", input={})
    for call in (
        lambda: client.predictions.get(prediction.id),
        lambda: client.predictions.list(),
        lambda: client.predictions.cancel(prediction.id),
    ):
        fake.fail_next(status=status, times=2)
        call()


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_create_is_never_retried_after_a_5xx(client: Client, fake: FakeReplicate, status: int) -> None:
    fake.fail_next(status=status, method="POST")
    with pytest.raises(ReplicateError) as info:
        client.predictions.create(model=ECHO, input={})
    assert info.value.status == status
    assert len(fake.requests) == 1


def test_a_create_is_never_retried_once_it_may_have_arrived(fake: FakeReplicate) -> None:
    client = Client(api_token=fake.token, base_url=fake.base_url, timeout=0.3, retry_backoff=0.01)
    fake.fail_next("drop_after", method="POST")  # created, then the connection drops
    with pytest.raises(APIConnectionError) as info:
        client.predictions.create(model=ECHO, input={})
    assert info.value.sent is True and fake.creates == 1
    fake.fail_next("hang", seconds=2, method="POST")
    with pytest.raises(APITimeoutError):
        client.predictions.create(model=ECHO, input={})
    assert fake.creates == 1 and [r.method for r in fake.requests].count("POST") == 2
    client.close()


def test_a_create_is_retried_when_the_connection_was_refused() -> None:
    # The port is bound but not listening (connections are refused) until the timer starts
    # listening on the very same socket: no other process can take the port meanwhile.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    requests: list[bytes] = []

    def serve_once() -> None:
        listener.listen()
        conn, _ = listener.accept()
        with conn:
            requests.append(conn.recv(65536))
            body = b'{"id": "late", "status": "starting", "input": {"prompt": "late"}}'
            conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    client = Client(api_token="r8_x", base_url=f"http://127.0.0.1:{port}", max_retries=8, retry_backoff=0.1)
    timer = threading.Timer(0.3, serve_once)
    timer.start()
    try:
        prediction = client.predictions.create(model=ECHO, input={"prompt": "late"})
        assert prediction.input == {"prompt": "late"} and len(requests) == 1
        assert requests[0].startswith(b"POST /v1/models/replicate-min/echo/predictions ")
    finally:
        timer.join(10)
        listener.close()
        client.close()


def test_max_retries_zero_disables_retries(fake: FakeReplicate) -> None:
    client = Client(api_token=fake.token, base_url=fake.base_url, max_retries=0)
    fake.fail_next(status=503)
    with pytest.raises(ReplicateError) as info:
        client.predictions.list()
    assert info.value.status == 503 and len(fake.requests) == 1
    client.close()


def test_retries_give_up_after_max_retries(fake: FakeReplicate) -> None:
    client = Client(api_token=fake.token, base_url=fake.base_url, max_retries=2, retry_backoff=0.01)
    fake.fail_next(status=429, headers={"Retry-After": "0"}, times=5)
    with pytest.raises(ReplicateError) as info:
        client.predictions.list()
    assert info.value.status == 429 and len(fake.requests) == 3
    client.close()


def test_backoff_grows_exponentially(fake: FakeReplicate, retry_sleeps: list[float]) -> None:
    client = Client(api_token=fake.token, base_url=fake.base_url, max_retries=3, retry_backoff=0.1)
    fake.fail_next(status=503, times=3)
    client.predictions.list()
    # 0.1, 0.2 and 0.4 s, each times a jitter of 0.5 to 1
    assert len(retry_sleeps) == 3
    for delay, base in zip(retry_sleeps, (0.1, 0.2, 0.4)):
        assert base * 0.5 <= delay <= base, retry_sleeps
    client.close()


# -- timeouts and redirects ------------------------------------------------------------


def test_connect_timeout_applies_to_connecting() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        fillers = []
        try:  # fill the accept backlog so the next connection attempt hangs
            for _ in range(8):
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(listener.getsockname())
                fillers.append(filler)
            client = Client(
                api_token="r8_x",
                base_url=f"http://127.0.0.1:{listener.getsockname()[1]}",
                connect_timeout=0.3,
                max_retries=0,
            )
            # Nothing will ever accept the connection: only the connect timeout can raise this.
            with pytest.raises(APITimeoutError) as info:
                client.predictions.list()
            assert info.value.sent is False
        finally:
            for filler in fillers:
                filler.close()


def test_a_redirect_to_another_origin_drops_the_token(client: Client, fake: FakeReplicate) -> None:
    with FakeReplicate(token=fake.token) as other:  # same token: only the header decides
        fake.fail_next(status=307, headers={"Location": other.base_url + "/v1/predictions"}, body=b"")
        with pytest.raises(ReplicateError) as info:
            client.predictions.list()
        assert info.value.status == 401
        assert "authorization" not in other.requests[-1].headers


def test_a_redirect_within_the_origin_keeps_the_token(client: Client, fake: FakeReplicate) -> None:
    fake.fail_next(status=302, headers={"Location": fake.base_url + "/v1/predictions"}, body=b"")
    assert client.predictions.list().results == []
    assert fake.requests[-1].headers["authorization"] == f"Bearer {fake.token}"


def test_a_redirected_create_is_not_followed(client: Client, fake: FakeReplicate) -> None:
    fake.fail_next(status=307, headers={"Location": fake.base_url + "/v1/predictions"}, body=b"", method="POST")
    with pytest.raises(ReplicateError) as info:
        client.predictions.create(model=ECHO, input={})
    assert info.value.status == 307 and fake.creates == 0


# -- TLS -------------------------------------------------------------------------------


@pytest.fixture
def tls_fake(tmp_path: Any) -> Iterator[tuple[FakeReplicate, Any, str]]:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", ALIAS).configure_cert(server_context)
    ca_file = str(tmp_path / "ca.pem")
    ca.cert_pem.write_to_path(ca_file)
    with FakeReplicate(ssl_context=server_context) as fake:
        yield fake, ca, ca_file


def test_tls_is_verified_by_default(tls_fake: tuple[FakeReplicate, Any, str], retry_sleeps: list[float]) -> None:
    fake, _, _ = tls_fake
    client = Client(api_token=fake.token, base_url=fake.base_url, max_retries=3, retry_backoff=2)
    assert fake.base_url.startswith("https://localhost:")
    with pytest.raises(APIConnectionError) as info:
        client.predictions.list()
    assert retry_sleeps == []  # not retried: a certificate will not fix itself
    assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
    assert info.value.sent is False and fake.requests == []


def test_a_custom_ssl_context_is_used(tls_fake: tuple[FakeReplicate, Any, str]) -> None:
    fake, ca, _ = tls_fake
    context = ssl.create_default_context()
    ca.configure_trust(context)
    client = Client(api_token=fake.token, base_url=fake.base_url, ssl_context=context)
    for _ in range(3):
        client.predictions.list()
    assert fake.connections == 1
    client.close()


def test_ssl_cert_file_is_honoured(tls_fake: tuple[FakeReplicate, Any, str], monkeypatch: pytest.MonkeyPatch) -> None:
    fake, _, ca_file = tls_fake
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    client = Client(api_token=fake.token, base_url=fake.base_url)
    assert client.predictions.list().results == []
    client.close()


# -- proxies ---------------------------------------------------------------------------


def test_http_proxy_from_the_environment_with_keep_alive_and_retries(
    fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "")
        client = Client(api_token=fake.token, base_url=aliased(fake.base_url), retry_backoff=0.01, allow_http=True)
        fake.fail_next(status=503)
        for _ in range(3):
            client.predictions.list()
        assert [r[0] for r in proxy.requests] == ["GET"] * 4  # one 503 retried, then three
        assert proxy.requests[0][1] == aliased(fake.base_url) + "/v1/predictions"
        assert proxy.connections == 1
        client.close()


def test_no_proxy_bypasses_the_proxy(fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch) -> None:
    with Proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", ALIAS)
        client = Client(api_token=fake.token, base_url=aliased(fake.base_url), allow_http=True, max_retries=0)
        with pytest.raises(APIConnectionError) as info:  # straight to the name, which only the proxy knows
            client.predictions.list()
        assert proxy.requests == [] and not info.value.sent


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "127.1.2.3"])
def test_a_loopback_destination_is_never_proxied(
    fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    # Plain http to loopback is allowed because the bytes stay on the machine: the token
    # must not go in clear to a proxy (G2).
    with Proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "")
        base_url = fake.base_url.replace("127.0.0.1", host)
        client = Client(
            api_token=fake.token, base_url=base_url, proxy=proxy.url if host == "localhost" else None, max_retries=0
        )
        if host == "127.1.2.3":
            with pytest.raises(APIConnectionError):  # nothing listens there: connected directly, not proxied
                client.predictions.list()
        else:
            client.predictions.list()
            assert len(fake.requests) == 1
        assert proxy.requests == [] and proxy.connections == 0


def test_the_proxy_argument_overrides_the_environment(fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch) -> None:
    with Proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
        monkeypatch.setenv("NO_PROXY", "")
        Client(
            api_token=fake.token, base_url=aliased(fake.base_url), proxy=proxy.url, allow_http=True
        ).predictions.list()
        assert len(proxy.requests) == 1


def test_https_through_a_connect_proxy(
    tls_fake: tuple[FakeReplicate, Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, ca, _ = tls_fake
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with Proxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "")
        client = Client(api_token=fake.token, base_url=aliased(fake.base_url), ssl_context=context)
        client.predictions.list()
        client.predictions.list()
        assert [r[0] for r in proxy.requests] == ["CONNECT"]  # one tunnel, kept alive
        assert "authorization" not in proxy.requests[0][2]  # the token travels inside TLS only
        client.close()
        monkeypatch.setenv("HTTPS_PROXY", proxy.url.replace("http://", "http://user:secret@"))
        client = Client(api_token=fake.token, base_url=aliased(fake.base_url), ssl_context=context)
        client.predictions.list()
        client.predictions.list()  # on the reused tunnel too
        assert proxy.requests[-1][0] == "CONNECT" and proxy.requests[-1][2]["proxy-authorization"].startswith("Basic ")
        assert all("proxy-authorization" not in r.headers for r in fake.requests)
        client.close()


# -- logging ---------------------------------------------------------------------------


def test_one_debug_line_per_request_response_and_retry_without_the_token(
    client: Client, fake: FakeReplicate, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next(status=503)
    with caplog.at_level(logging.DEBUG, logger="replicate_min"):
        client.predictions.list()
    messages = [record.getMessage() for record in caplog.records]
    assert [m.split()[0] for m in messages] == ["request", "response", "retrying", "request", "response"]
    assert all(fake.token not in message for message in messages)


def test_a_stream_read_to_its_end_then_closed_leaves_its_pooled_connection_alone(
    client: Client, fake: FakeReplicate
) -> None:
    prediction = client.predictions.create(model="replicate-min/echo", input={"prompt": "x"}, wait=True)
    prediction.wait()
    assert prediction.urls is not None
    response = client.requester.open_stream(prediction.urls["stream"])
    while response.read1():
        pass  # to the end of the body: the connection is back in the pool
    connections = fake.connections
    response.abort()  # must not shut down a socket the pool owns now
    response.close()
    again = client.predictions.create(model="replicate-min/echo", input={"prompt": "y"})
    assert again.input == {"prompt": "y"}
    assert fake.connections == connections  # the pooled connection served the create


@pytest.mark.parametrize(
    "location",
    [
        "https://evil.test%3A443%20HTTP%2F1.1%0D%0AHost%3A%20evil.test%0D%0A%0D%0AX.replicate.delivery/o",
        "http://evil%00.test/x",
        "https://user:pw@api.replicate.com/x",
        "http://127.0.0.1:0/x",
    ],
)
def test_a_redirect_to_a_url_the_url_rule_refuses_is_not_followed(location: str) -> None:
    from tests.hostile.rawserver import RawServer, response, serve_each

    server = RawServer(serve_each(lambda request: response(302, b"", {"Location": location})))
    try:
        client = Client(api_token="r8_test", base_url=server.url, max_concurrency=1, max_retries=0)
        for _ in range(2):  # and no slot is kept
            with pytest.raises(ReplicateError) as info:
                client.predictions.get("abc")
            assert info.value.status == 302
        assert len(server.requests) == 2
    finally:
        server.close()


def test_per_call_values_reach_the_handlers_as_one_typed_value() -> None:
    # 17.4: no per-call attributes stuck on urllib's Request.
    import inspect

    import replicate_min._transport as transport

    source = inspect.getsource(transport)
    assert source.count("attr-defined") == 1  # urllib's own _tunnel_host, read: nothing set on a Request
    assert "_failure" not in source and "setattr(new" not in source
    options = transport._CallOptions(idempotent=True, deadline=1.0)
    request = transport._Request("https://x.test/", None, {}, "GET", options)
    assert transport._options_of(request) is options
    assert transport._options_of(transport.urllib.request.Request("https://x.test/")) == transport._CallOptions()


def test_a_slot_collected_unreleased_gives_its_place_back() -> None:
    # G6: an interrupt at a slot holder's first line leaves the slot to the collector.
    import gc

    import replicate_min._transport as transport

    pool = transport._Pool(1)
    key = (True, "x.replicate.delivery", None)
    slot, conn = pool.acquire(key, None)
    assert conn is None and pool._in_use == {key: 1}
    del slot
    gc.collect()
    slot, conn = pool.acquire(key, 0)  # would time out (nothing sent) had the place been kept
    slot.release()
    assert pool._in_use == {} and not pool._orphans


def test_the_deadline_watchdog_outlives_a_deadline_past_any_lock_wait() -> None:
    # A deadline 1e10 s away made Condition.wait overflow, which ended the one watchdog thread,
    # and with it every later deadline in the process.
    import replicate_min._transport as transport

    class Lease:
        def __init__(self) -> None:
            self.aborted = threading.Event()
            self.alive = True

        def abort(self) -> None:
            self.aborted.set()

    before = set(threading.enumerate())
    watchdog = transport._Watchdog()
    (thread,) = set(threading.enumerate()) - before
    far, near = Lease(), Lease()
    watchdog.arm(time.monotonic() + 1e10, far)  # type: ignore[arg-type]
    end = time.monotonic() + 60  # a safety net, not a bound
    while thread.is_alive() and not watchdog._changed._waiters:  # type: ignore[attr-defined]  # it took up the far one
        assert time.monotonic() < end
        time.sleep(0.001)
    assert thread.is_alive()
    watchdog.arm(time.monotonic(), near)  # type: ignore[arg-type]
    assert near.aborted.wait(60)  # due at once
    assert not far.aborted.is_set()
