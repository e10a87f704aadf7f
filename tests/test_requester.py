"""The requester layer (``_requester``): here, ``async_twin``, the one maker of the resources' async twins."""

from __future__ import annotations

import asyncio
import inspect
import pickle
from typing import Any

import pytest

from replicate_min import Client, Prediction
from replicate_min._prediction import Predictions
from replicate_min.testing import FakeReplicate


def test_a_twin_is_a_coroutine_function_with_its_sync_methods_signature(client: Client) -> None:
    for owner in (Predictions, client.predictions):
        assert inspect.iscoroutinefunction(owner.async_get)
        assert asyncio.iscoroutinefunction(owner.async_get)
    assert inspect.signature(Predictions.async_create) == inspect.signature(Predictions.create)
    assert Predictions.async_get.__module__ == Predictions.get.__module__
    assert Predictions.async_get.__qualname__ == "Predictions.async_get"
    assert pickle.loads(pickle.dumps(Predictions.async_get)) is Predictions.async_get


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda p: p.async_get("a", "b"), "too many positional arguments"),
        (lambda p: p.async_get(), "missing a required argument: 'id'"),
        (lambda p: p.async_create(model="o/n", imput={}), "unexpected keyword argument 'imput'"),
    ],
)
def test_arguments_that_do_not_fit_are_a_type_error_naming_the_twin_and_send_nothing(
    call: object, named: str, client: Client, fake: FakeReplicate
) -> None:
    with pytest.raises(TypeError) as info:
        asyncio.run(call(client.predictions))  # type: ignore[operator]
    assert str(info.value).startswith("Predictions.async_") and named in str(info.value)
    assert not fake.requests


def test_a_twin_takes_keywords_and_positions_as_its_sync_method_does(client: Client, fake: FakeReplicate) -> None:
    created = client.predictions.create(model="replicate-min/echo", input={"prompt": "x"})

    async def main() -> list[Prediction]:
        return [
            await client.predictions.async_get(created.id),
            await client.predictions.async_get(id=created.id),
            await Predictions.async_get(client.predictions, created.id),
            await Predictions.async_get(self=client.predictions, id=created.id),
        ]

    assert [prediction.id for prediction in asyncio.run(main())] == [created.id] * 4


def test_a_twin_runs_the_method_as_a_subclass_overrides_it(client: Client, fake: FakeReplicate) -> None:
    class Counting(Predictions):
        calls = 0

        def get(self, id: str) -> Prediction:
            Counting.calls += 1
            return super().get(id)

    created = client.predictions.create(model="replicate-min/echo", input={"prompt": "x"})
    counting = Counting(client.requester)
    assert asyncio.run(counting.async_get(created.id)).id == created.id
    assert Counting.calls == 1


@pytest.mark.parametrize("name", ["read_timeout", "connect_timeout", "poll_interval", "retry_backoff"])
@pytest.mark.parametrize("value", [10**400, 10**5000, -(10**400)], ids=["1e400", "1e5000", "-1e400"])
def test_seconds_past_floats_range_are_a_value_error_naming_the_setting(name: str, value: int) -> None:
    with pytest.raises(ValueError, match=name):
        Client(api_token="r8_test", **{name: value})
    if name != "connect_timeout":  # (read-only: the pool's connections were made with it)
        with pytest.raises(ValueError, match=name):
            setattr(Client(api_token="r8_test"), name, value)


def test_an_ssl_context_that_is_not_one_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="ssl_context"):
        Client(api_token="r8_test", ssl_context="x")


@pytest.mark.parametrize("headers", ["x", 5, [("a", "b")]])
def test_headers_that_are_not_a_mapping_are_a_type_error_naming_them(headers: Any) -> None:
    with pytest.raises(TypeError, match="headers"):
        Client(api_token="r8_test", headers=headers)


def test_a_proxys_password_is_not_in_the_settings_repr() -> None:
    client = Client(api_token="r8_test", proxy="http://user:s3cret@proxy.example:3128")
    assert "s3cret" not in repr(client.requester.settings) and "s3cret" not in repr(client)


@pytest.mark.parametrize("name", ["read_timeout", "connect_timeout", "stream_idle_timeout"])
def test_a_socket_timeout_of_zero_is_refused_as_it_would_make_the_socket_non_blocking(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be a number of seconds, above 0"):
        Client(api_token="r8_test", **{name: 0})


@pytest.mark.parametrize("name", ["read_timeout", "poll_interval", "retry_backoff", "stream_idle_timeout"])
def test_seconds_past_a_billion_are_refused_before_a_sleep_or_socket_overflows(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} .* at most 1e"):
        Client(api_token="r8_test", **{name: 1e300})
    assert Client(api_token="r8_test", poll_interval=0).requester.settings.poll_interval == 0.0


def test_run_with_a_timeout_past_a_billion_seconds_is_a_value_error(client: Client, fake: FakeReplicate) -> None:
    with pytest.raises(ValueError, match="timeout"):
        client.run("replicate-min/echo", {"prompt": "x"}, timeout=1e10)
    assert not fake.requests


@pytest.mark.parametrize("value", ["no", 1, None])
def test_allow_http_is_a_bool_not_a_truthy_value(value: Any) -> None:
    with pytest.raises(TypeError, match="allow_http"):
        Client(api_token="r8_test", base_url="http://example.com", allow_http=value)
