"""Webhook verification: the published vector, every way it can fail, and the signing secret."""

from __future__ import annotations

import time
from typing import Any

import pytest

import replicate_min
from replicate_min import Client, ReplicateException
from replicate_min.testing import FakeReplicate
from replicate_min.webhooks import (
    InvalidSecretKeyError,
    InvalidSignatureError,
    InvalidTimestampError,
    MissingWebhookBodyError,
    MissingWebhookHeaderError,
    WebhookError,
    WebhookSigningSecret,
    sign,
    validate,
)

# The vector of shared/API.md §7 (replicate-python's tests/test_webhooks.py).
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HEADERS = {
    "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "webhook-timestamp": "1614265330",
    "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}
BODY = '{"test": 2432232314}'


def test_the_published_vector_validates() -> None:
    assert validate(headers=HEADERS, body=BODY, secret=SECRET, tolerance=None) is True
    assert validate(headers=HEADERS, body=BODY.encode(), secret=WebhookSigningSecret(SECRET), tolerance=None) is True
    assert (
        sign(id=HEADERS["webhook-id"], timestamp=HEADERS["webhook-timestamp"], body=BODY, secret=SECRET)
        == HEADERS["webhook-signature"]
    )


def test_header_names_in_any_case_and_several_signatures() -> None:
    headers = {k.upper(): v for k, v in HEADERS.items()}
    headers["WEBHOOK-SIGNATURE"] = "v1,bm90IGl0 v2,whatever " + HEADERS["webhook-signature"]
    assert validate(headers=headers, body=BODY, secret=SECRET, tolerance=None)


def test_the_tolerance_is_on_by_default() -> None:
    with pytest.raises(InvalidTimestampError) as info:
        validate(headers=HEADERS, body=BODY, secret=SECRET)
    assert str(info.value) == "Webhook timestamp is outside the allowed tolerance of 300 seconds"
    assert "old" in (info.value.detail or "")


@pytest.mark.parametrize(("offset", "word"), [(-1000, "old"), (1000, "future")])
def test_stale_and_future_timestamps(offset: int, word: str) -> None:
    stamp = int(time.time()) + offset
    headers = {
        **HEADERS,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(id="m", timestamp=stamp, body=BODY, secret=SECRET),
    }
    headers["webhook-id"] = "m"
    with pytest.raises(InvalidTimestampError) as info:
        validate(headers=headers, body=BODY, secret=SECRET)
    assert word in (info.value.detail or "")
    assert validate(headers=headers, body=BODY, secret=SECRET, tolerance=2000)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"body": BODY.replace("2432232314", "2432232315")}, InvalidSignatureError),
        ({"headers": {**HEADERS, "webhook-signature": "v1,AAAA"}}, InvalidSignatureError),
        (
            {"headers": {**HEADERS, "webhook-signature": "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}},
            InvalidSignatureError,
        ),
        ({"headers": {**HEADERS, "webhook-id": "msg_other"}}, InvalidSignatureError),
        ({"secret": "whsec_" + "QUJD" * 8}, InvalidSignatureError),
        ({"headers": {k: v for k, v in HEADERS.items() if k != "webhook-id"}}, MissingWebhookHeaderError),
        ({"headers": {k: v for k, v in HEADERS.items() if k != "webhook-timestamp"}}, MissingWebhookHeaderError),
        ({"headers": {k: v for k, v in HEADERS.items() if k != "webhook-signature"}}, MissingWebhookHeaderError),
        ({"headers": {**HEADERS, "webhook-timestamp": "yesterday"}}, InvalidTimestampError),
        ({"body": None}, MissingWebhookBodyError),
        ({"secret": "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, InvalidSecretKeyError),
        ({"secret": "whsec_not base64!"}, InvalidSecretKeyError),
        ({"secret": 12345}, InvalidSecretKeyError),
    ],
)
def test_every_way_to_fail(change: dict[str, object], error: type[WebhookError]) -> None:
    arguments = {"headers": HEADERS, "body": BODY, "secret": SECRET, "tolerance": None, **change}
    with pytest.raises(error):
        validate(**arguments)  # type: ignore[arg-type]
    assert issubclass(error, WebhookError) and issubclass(error, ReplicateException)


def test_the_signing_secret_comes_from_the_api_and_signs_the_fakes_webhooks(
    client: Client, fake: FakeReplicate
) -> None:
    secret = client.webhooks.default.secret()
    assert secret.key == fake.webhook_secret and "whsec_" not in repr(secret)[30:]
    assert fake.requests[-1].path == "/v1/webhooks/default/secret"
    body = {"id": "p1", "status": "succeeded"}
    headers = fake.sign_webhook(body)
    import json

    assert client.webhooks.validate(headers=headers, body=json.dumps(body), secret=secret) is True


def test_the_module_reaches_the_default_client(fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICATE_API_TOKEN", fake.token)
    monkeypatch.setenv("REPLICATE_BASE_URL", fake.base_url)
    assert replicate_min.webhooks.default.secret().key == fake.webhook_secret
    with pytest.raises(AttributeError):
        replicate_min.webhooks.nothing  # noqa: B018


# Compatibility with the official client's webhook.py.


def test_every_webhook_error_is_a_value_error_and_a_replicate_exception() -> None:
    import replicate_min.webhook as webhook

    assert webhook.WebhookValidationError is WebhookError
    for error in (
        WebhookError,
        MissingWebhookHeaderError,
        MissingWebhookBodyError,
        InvalidSecretKeyError,
        InvalidTimestampError,
        InvalidSignatureError,
    ):
        assert issubclass(error, ValueError) and issubclass(error, ReplicateException)
    try:
        validate(headers=HEADERS, body=BODY + " ", secret=SECRET, tolerance=None)
    except ValueError as caught:  # what code written for the official client catches
        assert isinstance(caught, InvalidSignatureError)
    else:  # pragma: no cover - the assertion above is the test
        pytest.fail("a tampered body validated")


@pytest.mark.parametrize("headers", [None, {}, []])
def test_no_headers_is_a_missing_header_not_an_attribute_error(headers: object) -> None:
    with pytest.raises(MissingWebhookHeaderError):
        validate(headers=headers, body=BODY, secret=SECRET, tolerance=None)


@pytest.mark.parametrize("body", ["", b""])
def test_an_empty_body_is_missing_as_in_the_official_client(body: object) -> None:
    with pytest.raises(MissingWebhookBodyError):
        validate(headers=HEADERS, body=body, secret=SECRET, tolerance=None)  # type: ignore[arg-type]


def test_headers_as_pairs_and_bytes_as_asgi_gives_them() -> None:
    pairs = [(name.encode(), value.encode()) for name, value in HEADERS.items()]
    assert validate(headers=[(b"content-type", b"application/json"), *pairs], body=BODY, secret=SECRET, tolerance=None)


@pytest.mark.parametrize("headers", ["webhook-id", 12, [("webhook-id",)], {"webhook-id": object()}])
def test_headers_of_the_wrong_type_are_a_type_error(headers: object) -> None:
    with pytest.raises(TypeError):
        validate(headers={**HEADERS, **headers} if isinstance(headers, dict) else headers, body=BODY, secret=SECRET)


def test_a_parsed_body_is_a_type_error_not_a_signature_mismatch() -> None:
    with pytest.raises(TypeError, match="raw request body"):
        validate(headers=HEADERS, body={"test": 2432232314}, secret=SECRET, tolerance=None)  # type: ignore[arg-type]


class HttpxLikeRequest:
    """The two things the official client reads from an ``httpx.Request``: ``headers`` and ``content``."""

    def __init__(self, headers: dict[str, str], content: bytes) -> None:
        self.headers = headers
        self.content = content


class StreamedRequest:
    """An ``httpx.Request`` whose body was not read: ``content`` raises ``RequestNotRead`` (a RuntimeError)."""

    def __init__(self, headers: dict[str, str], content: bytes) -> None:
        self.headers = headers
        self._content = content

    @property
    def content(self) -> bytes:
        raise RuntimeError("Attempted to access streaming request content, without having called `read()`.")

    def read(self) -> bytes:
        return self._content


class DjangoLikeRequest:
    def __init__(self, headers: dict[str, str], body: bytes) -> None:
        self.headers = headers
        self.body = body


class FlaskLikeRequest:
    def __init__(self, headers: dict[str, str], body: bytes) -> None:
        self.headers = headers
        self._body = body

    def get_data(self) -> bytes:
        return self._body


class StarletteLikeRequest:
    def __init__(self, headers: dict[str, str], body: bytes) -> None:
        self.headers = headers
        self._body = body

    async def body(self) -> bytes:  # pragma: no cover - never awaited: validate refuses it
        return self._body


@pytest.mark.parametrize("kind", [HttpxLikeRequest, StreamedRequest, DjangoLikeRequest, FlaskLikeRequest])
def test_validate_takes_a_request_object(kind: type) -> None:
    request = kind({k.title(): v for k, v in HEADERS.items()}, BODY.encode())
    assert validate(request=request, secret=SECRET, tolerance=None) is True
    assert Client(api_token="r8_x").webhooks.validate(request=request, secret=SECRET, tolerance=None) is True
    tampered = kind(HEADERS, BODY.encode() + b" ")
    with pytest.raises(InvalidSignatureError):
        validate(request=tampered, secret=SECRET, tolerance=None)


def test_a_request_without_headers_or_body_raises_the_missing_errors() -> None:
    with pytest.raises(MissingWebhookHeaderError):
        validate(request=HttpxLikeRequest({}, BODY.encode()), secret=SECRET, tolerance=None)
    with pytest.raises(MissingWebhookBodyError):
        validate(request=HttpxLikeRequest(HEADERS, b""), secret=SECRET, tolerance=None)
    headers_only = type("HeadersOnly", (), {"headers": HEADERS})()
    with pytest.raises(MissingWebhookBodyError):
        validate(request=headers_only, secret=SECRET, tolerance=None)


def test_an_async_request_body_is_refused_with_what_to_do_instead() -> None:
    with pytest.raises(TypeError, match=r"body=await request\.body\(\)"):
        validate(request=StarletteLikeRequest(HEADERS, BODY.encode()), secret=SECRET, tolerance=None)


def test_any_awaitable_body_is_refused() -> None:
    class Awaitable:  # an awaitable that is not a coroutine: nothing to close
        def __await__(self) -> Any:
            yield

    request = type("AiohttpLike", (), {"headers": HEADERS, "read": lambda self: Awaitable()})()
    with pytest.raises(TypeError, match=r"body=await request\.read\(\)"):
        validate(request=request, secret=SECRET, tolerance=None)


def test_request_and_headers_together_are_a_value_error() -> None:
    request = HttpxLikeRequest(HEADERS, BODY.encode())
    with pytest.raises(ValueError, match="either request"):
        validate(request=request, headers=HEADERS, secret=SECRET)
    with pytest.raises(ValueError, match="either request"):
        validate(request=request, body=BODY, secret=SECRET)


def test_a_missing_secret_is_an_invalid_secret() -> None:
    with pytest.raises(InvalidSecretKeyError, match=r"^Missing webhook signing secret$") as info:
        validate(headers=HEADERS, body=BODY, tolerance=None)
    assert info.value.detail == "no webhook signing secret was given"


def test_the_default_tolerance_is_300_seconds() -> None:
    stamp = int(time.time()) - 290
    headers = {"webhook-id": "m", "webhook-timestamp": str(stamp)}
    headers["webhook-signature"] = sign(id="m", timestamp=stamp, body=BODY, secret=SECRET)
    assert validate(headers=headers, body=BODY, secret=SECRET)
    stamp -= 20
    headers["webhook-timestamp"] = str(stamp)
    headers["webhook-signature"] = sign(id="m", timestamp=stamp, body=BODY, secret=SECRET)
    with pytest.raises(InvalidTimestampError) as info:
        validate(headers=headers, body=BODY, secret=SECRET)
    assert "300 s tolerance" in (info.value.detail or "")


def test_the_official_module_path_exports_the_same_objects() -> None:
    import replicate_min._webhooks as private
    import replicate_min.webhook as webhook
    import replicate_min.webhooks as webhooks

    assert sorted(webhook.__all__) == webhook.__all__
    for name in webhook.__all__:
        assert getattr(webhook, name) is getattr(private, name)
    for name in webhooks.__all__:
        assert getattr(webhook, name) is getattr(webhooks, name)
    assert webhook.Webhooks.validate is validate


@pytest.mark.parametrize(
    ("headers", "body", "secret", "message"),
    [
        ({}, BODY, SECRET, "Missing webhook headers"),
        ({"webhook-timestamp": "1", "webhook-signature": "v1,x"}, BODY, SECRET, "Missing webhook id"),
        ({"webhook-id": "m", "webhook-signature": "v1,x"}, BODY, SECRET, "Missing webhook timestamp"),
        ({"webhook-id": "m", "webhook-timestamp": "1"}, BODY, SECRET, "Missing webhook signature"),
        (HEADERS, "", SECRET, "Missing webhook body"),
        (HEADERS, BODY, "whsec_not base64!", "Invalid secret key format"),
        ({**HEADERS, "webhook-signature": "garbage"}, BODY, SECRET, "Invalid signature format: garbage"),
        ({**HEADERS, "webhook-signature": "v1,bm90IGl0"}, BODY, SECRET, "Webhook signature is invalid"),
    ],
)
def test_the_messages_are_the_official_clients(headers: Any, body: Any, secret: str, message: str) -> None:
    """Endpoints return ``str(e)`` to their callers: the same failure gives the official words."""
    with pytest.raises(WebhookError) as info:
        validate(headers=headers, body=body, secret=secret, tolerance=None)
    assert str(info.value) == message
    assert info.value.detail
    assert secret[len("whsec_") :] not in str(info.value) + info.value.detail  # never the secret


@pytest.mark.parametrize(
    ("keywords", "error"),
    [
        ({"id": None}, TypeError),
        ({"timestamp": object()}, TypeError),
        ({"timestamp": True}, TypeError),
        ({"body": 5}, TypeError),
        ({"body": None}, TypeError),
        ({"id": "\ud800"}, ValueError),
        ({"body": "\ud800"}, ValueError),
    ],
)
def test_sign_checks_what_it_signs(keywords: dict, error: type) -> None:
    from replicate_min.webhooks import sign

    arguments = {"id": "msg", "timestamp": 1, "body": "{}", "secret": "whsec_" + "QUFBQQ==", **keywords}
    with pytest.raises(error, match=r"id|timestamp|body"):
        sign(**arguments)


def test_validate_given_the_dict_class_as_headers_is_a_type_error_naming_headers() -> None:
    from replicate_min.webhooks import validate

    with pytest.raises(TypeError, match="headers"):
        validate(headers=dict, body="{}", secret="whsec_" + "QUFBQQ==")
