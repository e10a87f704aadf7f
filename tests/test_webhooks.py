"""Webhook verification: the published vector, every way it can fail, and the signing secret."""

from __future__ import annotations

import time

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
    with pytest.raises(InvalidTimestampError, match="old"):
        validate(headers=HEADERS, body=BODY, secret=SECRET)


@pytest.mark.parametrize(("offset", "word"), [(-1000, "old"), (1000, "future")])
def test_stale_and_future_timestamps(offset: int, word: str) -> None:
    stamp = int(time.time()) + offset
    headers = {
        **HEADERS,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(id="m", timestamp=stamp, body=BODY, secret=SECRET),
    }
    headers["webhook-id"] = "m"
    with pytest.raises(InvalidTimestampError, match=word):
        validate(headers=headers, body=BODY, secret=SECRET)
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
