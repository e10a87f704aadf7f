"""Client configuration: token, base URL, poll interval, headers, and the token's safety."""

from __future__ import annotations

import copy
import inspect
import json
import sys

import pytest

import replicate_min
from replicate_min import (
    APITimeoutError,
    Client,
    Prediction,
    ReplicateError,
    ReplicateException,
)
from replicate_min.testing import FakeReplicate


def test_token_is_read_from_the_environment_when_a_request_is_made(
    fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.start_delay = 3600  # still "starting" when the answer is written, however loaded the machine
    client = Client(base_url=fake.base_url)
    monkeypatch.setenv("REPLICATE_API_TOKEN", fake.token)
    prediction = client.predictions.create(model="replicate-min/echo", input={"prompt": "x"})
    assert fake.requests[-1].headers["authorization"] == f"Bearer {fake.token}"
    assert prediction.status == "starting"


def test_no_token_raises_before_anything_is_sent(fake: FakeReplicate) -> None:
    client = Client(base_url=fake.base_url)
    with pytest.raises(ReplicateException, match="REPLICATE_API_TOKEN"):
        client.predictions.get("abc")
    assert fake.requests == []


def test_the_argument_token_wins_over_the_environment(fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_wrong")
    Client(api_token=fake.token, base_url=fake.base_url).predictions.list()
    assert fake.requests[-1].headers["authorization"] == f"Bearer {fake.token}"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://api.replicate.com", "https://api.replicate.com"),
        ("https://api.replicate.com/", "https://api.replicate.com"),
        ("https://api.replicate.com/v1", "https://api.replicate.com"),
        ("https://api.replicate.com/v1/", "https://api.replicate.com"),
        ("https://proxy.example/replicate/v1", "https://proxy.example/replicate"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://localhost:8000/v1", "http://localhost:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_base_url_is_normalized(given: str, expected: str) -> None:
    assert Client(base_url=given).base_url == expected


def test_base_url_defaults_and_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Client().base_url == "https://api.replicate.com"
    monkeypatch.setenv("REPLICATE_BASE_URL", "https://example.com/v1")
    assert Client().base_url == "https://example.com"


def test_a_trailing_v1_is_not_doubled_in_requests(fake: FakeReplicate) -> None:
    client = Client(api_token=fake.token, base_url=fake.base_url + "/v1/")
    client.predictions.list()
    assert fake.requests[-1].path == "/v1/predictions"


def test_plain_http_to_a_remote_host_is_refused_unless_allowed() -> None:
    with pytest.raises(ValueError, match="allow_http=True"):
        Client(base_url="http://api.example.com")
    assert Client(base_url="http://api.example.com", allow_http=True).base_url == "http://api.example.com"


def test_poll_interval_comes_from_argument_environment_or_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Client().poll_interval == 0.5
    monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "0.25")
    assert Client().poll_interval == 0.25
    assert Client(poll_interval=2).poll_interval == 2.0
    monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "soon")
    with pytest.raises(ValueError, match="REPLICATE_POLL_INTERVAL"):
        Client()


def test_requests_carry_the_documented_headers(client: Client, fake: FakeReplicate) -> None:
    client.predictions.create(model="replicate-min/echo", input={"prompt": "x"})
    client.predictions.list()
    post, get = fake.requests[-2:]
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for request in (post, get):
        assert request.headers["user-agent"] == f"replicate-min/{replicate_min.__version__} (Python {version})"
        assert request.headers["accept"] == "application/json"
        assert request.headers["authorization"] == f"Bearer {fake.token}"
    assert post.headers["content-type"] == "application/json"
    assert "content-type" not in get.headers


def test_user_agent_can_be_replaced(fake: FakeReplicate) -> None:
    Client(api_token=fake.token, base_url=fake.base_url, user_agent="my-app/2").predictions.list()
    assert fake.requests[-1].headers["user-agent"] == "my-app/2"


def test_the_token_appears_in_no_repr_and_no_error(client: Client, fake: FakeReplicate) -> None:
    prediction = client.predictions.create(model="replicate-min/fail", input={})
    prediction.wait()
    texts = [repr(client), repr(client.predictions), repr(prediction), str(prediction.to_dict())]
    for call in (
        lambda: client.predictions.get("missing"),
        lambda: Client(api_token="r8_wrong_token_value", base_url=fake.base_url).predictions.list(),
    ):
        with pytest.raises(replicate_min.ReplicateError) as info:
            call()
        texts += [str(info.value), repr(info.value)]
    assert texts and not any(fake.token in text or "r8_wrong_token_value" in text for text in texts)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.replicate.com/v1/predictions",
        "https://streaming-api.svc.rno2.c.replicate.net/v1/streams/x",
        "https://stream.replicate.com/v1/files/x",
        "https://replicate.delivery/pbxt/x.png",
        "https://tjzk.replicate.delivery/x.png",
    ],
)
def test_the_token_may_go_to_replicate_hosts_over_https(url: str) -> None:
    assert Client(base_url="https://api.replicate.com").may_send_token(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://api.replicate.com/v1/predictions",
        "https://evil.example/v1/predictions",
        "https://replicate.com.evil.example/x",
        "https://notreplicate.com/x",
        "https://api.replicate.com:8443/v1/predictions",
    ],
)
def test_the_token_never_goes_elsewhere(url: str) -> None:
    client = Client(base_url="https://api.replicate.com")
    assert not client.may_send_token(url)


def test_a_cursor_to_another_host_gets_no_token(fake: FakeReplicate) -> None:
    with FakeReplicate() as other:
        client = Client(api_token=fake.token, base_url=fake.base_url)
        with pytest.raises(replicate_min.ReplicateError) as info:
            client.predictions.list(cursor=other.base_url + "/v1/predictions")
        assert info.value.status == 401
        assert "authorization" not in other.requests[-1].headers


def test_the_default_client_backs_the_module_namespace(fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)
    monkeypatch.setenv("REPLICATE_API_TOKEN", fake.token)
    prediction = replicate_min.predictions.create(model="replicate-min/echo", input={"prompt": "module"})
    assert replicate_min.predictions is replicate_min.default_client().predictions
    assert replicate_min.predictions.get(prediction.id).id == prediction.id


def test_unknown_module_attributes_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        replicate_min.no_such_thing  # noqa: B018


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"api_token": 123}, TypeError),
        ({"base_url": 5}, TypeError),
        ({"base_url": "ftp://api.replicate.com"}, ValueError),
        ({"base_url": "https://"}, ValueError),
        ({"timeout": -1}, ValueError),
        ({"timeout": "30"}, TypeError),
        ({"connect_timeout": -0.1}, ValueError),
        ({"poll_interval": -1}, ValueError),
        ({"poll_interval": "fast"}, TypeError),
        ({"user_agent": 1}, TypeError),
        ({"max_retries": -1}, ValueError),
        ({"max_retries": True}, TypeError),
        ({"retry_backoff": -1}, ValueError),
        ({"proxy": 8080}, TypeError),
    ],
)
def test_bad_client_arguments_are_refused(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        Client(**kwargs)  # type: ignore[arg-type]
    assert next(iter(kwargs)) in str(info.value)


def test_client_close_keeps_it_usable(client: Client) -> None:
    client.predictions.list()
    client.close()
    assert isinstance(client.predictions.list(), replicate_min.Page)


def test_requests_send_json_bodies(client: Client, fake: FakeReplicate) -> None:
    client.predictions.create(model="replicate-min/echo", input={"prompt": "ü"})
    assert json.loads(fake.requests[-1].body) == {"input": {"prompt": "ü"}}


def test_the_per_read_timeout_and_the_overall_deadline_have_distinct_names(fake: FakeReplicate) -> None:
    client = Client(api_token=fake.token, base_url=fake.base_url, read_timeout=12)
    assert client.read_timeout == 12 and client.timeout == 12  # timeout: the earlier name, kept
    assert "timeout" in inspect.signature(Prediction.wait).parameters  # wait's is a deadline
    with pytest.raises(TypeError, match="not both"):
        Client(api_token="r8_x", read_timeout=5, timeout=6)
    with pytest.raises(TypeError, match="not both"):  # the default's own value is still "given"
        Client(api_token="r8_x", read_timeout=30.0, timeout=5)
    assert Client(api_token="r8_x", timeout=5).read_timeout == 5
    assert Client(api_token="r8_x", timeout=None).read_timeout is None
    assert Client(api_token="r8_x").read_timeout == 30.0


def test_each_default_is_named_once() -> None:
    from replicate_min import _defaults
    from replicate_min._requester import Settings
    from replicate_min._retry import RetryPolicy

    settings = Settings()
    client = Client(api_token="r8_x")
    for name in ("read_timeout", "connect_timeout", "poll_interval", "max_retries", "retry_backoff"):
        value = getattr(_defaults, f"DEFAULT_{name.upper()}")
        assert getattr(settings, name) == value and getattr(client, name) == value, name
    policy = RetryPolicy()
    assert (policy.max_retries, policy.backoff) == (_defaults.DEFAULT_MAX_RETRIES, _defaults.DEFAULT_RETRY_BACKOFF)
    assert settings.stream_idle_timeout == _defaults.DEFAULT_STREAM_IDLE_TIMEOUT


def test_use_client_default_is_a_distinct_sentinel() -> None:
    assert replicate_min.USE_CLIENT_DEFAULT is not None
    assert copy.deepcopy(replicate_min.USE_CLIENT_DEFAULT) is replicate_min.USE_CLIENT_DEFAULT
    signature = inspect.signature(Prediction.stream)
    assert signature.parameters["idle_timeout"].default is replicate_min.USE_CLIENT_DEFAULT


def test_max_retries_set_after_the_first_request_applies_to_the_next(client: Client, fake: FakeReplicate) -> None:
    prediction = client.predictions.create(model="replicate-min/forever", input={})
    client.predictions.get(prediction.id)  # the transport exists now
    client.max_retries = 0
    fake.fail_next(status=503, method="GET", path=f"/v1/predictions/{prediction.id}")
    gets = sum(1 for r in fake.requests if r.method == "GET")
    with pytest.raises(ReplicateError) as info:
        client.predictions.get(prediction.id)
    assert info.value.status == 503
    assert sum(1 for r in fake.requests if r.method == "GET") == gets + 1  # not retried


def test_read_timeout_set_after_the_first_request_applies_to_the_next(client: Client, fake: FakeReplicate) -> None:
    prediction = client.predictions.create(model="replicate-min/forever", input={})
    client.predictions.get(prediction.id)
    client.read_timeout = 0.1
    client.max_retries = 0
    fake.fail_next(kind="hang", seconds=3, method="GET", path=f"/v1/predictions/{prediction.id}")
    with pytest.raises(APITimeoutError):
        client.predictions.get(prediction.id)


def test_settings_that_shape_the_pool_are_read_only_once_it_exists(client: Client) -> None:
    with pytest.raises(AttributeError):
        client.base_url = "https://example.com"  # type: ignore[misc]
    client.predictions.list()
    with pytest.raises(AttributeError, match="cannot change"):
        client.requester.update(max_concurrency=2)
    with pytest.raises(ValueError):
        client.poll_interval = -1  # validated as at construction


# -- one default, one alias; a client crosses a process boundary as its settings --------------


def test_the_client_and_settings_defaults_are_one_table() -> None:
    from replicate_min import _defaults
    from replicate_min._requester import Settings
    from replicate_min._retry import RetryPolicy

    signature = inspect.signature(replicate_min.Client)
    for name in ("connect_timeout", "max_retries", "retry_backoff", "stream_idle_timeout"):
        assert signature.parameters[name].default == getattr(_defaults, "DEFAULT_" + name.upper())
    settings = Settings()
    for name in ("read_timeout", "connect_timeout", "poll_interval", "max_retries", "retry_backoff"):
        assert getattr(settings, name) == getattr(_defaults, "DEFAULT_" + name.upper())
    policy = inspect.signature(RetryPolicy)
    assert policy.parameters["max_retries"].default == _defaults.DEFAULT_MAX_RETRIES
    assert policy.parameters["backoff"].default == _defaults.DEFAULT_RETRY_BACKOFF


def test_a_used_client_pickles_without_its_pool_and_works_where_it_lands(fake: FakeReplicate) -> None:
    import pickle

    client = replicate_min.Client(api_token=fake.token, base_url=fake.base_url, poll_interval=0.01)
    client.predictions.list()  # a pooled socket and locks now: none of them cross
    copy = pickle.loads(pickle.dumps(client))
    assert type(copy) is replicate_min.Client and copy.poll_interval == 0.01
    assert copy.run("replicate-min/echo", {"prompt": "over there"}) == "over there"
    client.close()
    copy.close()


def test_a_token_from_the_environment_is_not_written_into_a_pickle(
    fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pickle

    monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_secretfromtheenvironment")
    data = pickle.dumps(replicate_min.Client(base_url=fake.base_url))
    assert b"r8_secretfromtheenvironment" not in data
    monkeypatch.setenv("REPLICATE_API_TOKEN", fake.token)  # the environment where it lands
    assert pickle.loads(data).predictions.list().results == []
    assert b"r8_explicit" in pickle.dumps(replicate_min.Client(api_token="r8_explicit"))  # a pickle is a secret


def test_a_file_output_pickles_as_a_file_output_that_reads_where_it_lands(
    client: replicate_min.Client, fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pickle

    from replicate_min._client import reset_default_client
    from replicate_min.helpers import FileOutput

    uploaded = client.files.create(b"file body")
    # As transform_output makes one for a model's file URL (only Replicate's hosts count as
    # those, so this loopback one is made by hand).
    first = FileOutput(f"{fake.base_url}/v1/files/{uploaded.id}/download", client.requester)
    assert first.read() == b"file body"
    copy = pickle.loads(pickle.dumps(first))
    assert type(copy) is FileOutput and copy == first
    monkeypatch.setenv("REPLICATE_API_TOKEN", fake.token)
    monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)
    reset_default_client()
    assert copy.read() == first.read()  # through the default client
    assert copy.bind(client).read() == first.read()  # or a client bound to it


@pytest.mark.parametrize(
    "url", ["https://user:s3cret-pw@api.replicate.com", "https://s3cret-pw@h/v1", "http://u:s3cret-pw@[::1?q"]
)
def test_userinfo_in_base_url_is_refused_without_showing_the_password(url: str) -> None:
    with pytest.raises(ValueError, match="user name or password") as caught:
        Client(api_token="r8_x", base_url=url)
    assert "s3cret-pw" not in str(caught.value)
