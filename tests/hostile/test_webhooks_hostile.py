"""Webhook requests built to hurt: whatever arrives, ``validate`` answers with a WebhookError.

A handler that catches ``WebhookError`` (or ``ValueError``) to answer 400 must never see an
OverflowError, a UnicodeEncodeError or a TypeError from a header an attacker chose. Caller
mistakes (a tolerance that would switch the check off) are refused loudly instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replicate_min.webhooks import (
    InvalidSecretKeyError,
    InvalidSignatureError,
    InvalidTimestampError,
    MissingWebhookHeaderError,
    WebhookError,
    sign,
    validate,
)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = '{"test": 2432232314}'


def signed(id: str = "msg_1", stamp: object = None, body: str = BODY) -> dict[str, str]:
    stamp = int(time.time()) if stamp is None else stamp
    return {
        "webhook-id": id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(id=id, timestamp=str(stamp), body=body, secret=SECRET),
    }


@pytest.mark.parametrize("tolerance", [300, None])
@pytest.mark.parametrize("digits", [21, 400, 5000])
def test_a_timestamp_of_hundreds_of_digits_is_an_invalid_timestamp(digits: int, tolerance: object) -> None:
    # 400 digits used to overflow float(time.time() - ts); 5000 hit int()'s digit limit (3.11+).
    headers = signed(stamp="9" * digits)
    with pytest.raises(InvalidTimestampError):
        validate(headers=headers, body=BODY, secret=SECRET, tolerance=tolerance)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "stamp", ["+1614265330", " 1614265330", "1614265330 ", "1_614_265_330", "-1", "1.5", "١٦١٤٢٦٥٣٣٠", "0x10", "1e9"]
)
def test_timestamps_int_would_accept_but_are_not_unix_seconds(stamp: str) -> None:
    with pytest.raises(InvalidTimestampError):
        validate(headers=signed(stamp=stamp), body=BODY, secret=SECRET, tolerance=None)


def test_an_empty_secret_key_is_refused_so_nobody_can_forge_with_it() -> None:
    stamp = str(int(time.time()))
    content = f"msg_1.{stamp}.{BODY}".encode()
    forged = "v1," + base64.b64encode(hmac.new(b"", content, hashlib.sha256).digest()).decode()
    headers = {"webhook-id": "msg_1", "webhook-timestamp": stamp, "webhook-signature": forged}
    for secret in ("whsec_", "whsec_====", "whsec_ "):
        with pytest.raises(InvalidSecretKeyError):
            validate(headers=headers, body=BODY, secret=secret)
    with pytest.raises(InvalidSecretKeyError):
        sign(id="msg_1", timestamp=stamp, body=BODY, secret="whsec_")


@pytest.mark.parametrize("tolerance", [float("nan"), float("inf"), float("-inf"), -1, -0.5, 10**400])
def test_a_tolerance_that_would_disable_the_check_is_a_value_error(tolerance: float) -> None:
    with pytest.raises(ValueError, match="tolerance") as info:
        validate(headers=signed(stamp=1614265330), body=BODY, secret=SECRET, tolerance=tolerance)
    assert not isinstance(info.value, WebhookError)  # the caller's mistake, not the request's


@pytest.mark.parametrize("tolerance", ["300", b"300", True, [300], 1j])
def test_a_tolerance_that_is_not_a_number_is_a_type_error(tolerance: object) -> None:
    with pytest.raises(TypeError, match="tolerance"):
        validate(headers=signed(), body=BODY, secret=SECRET, tolerance=tolerance)  # type: ignore[arg-type]


def test_a_tolerance_whose_float_conversion_fails_is_a_type_error() -> None:
    class Broken:  # like a numpy array of two elements: it has __float__, which raises
        def __float__(self) -> float:
            raise TypeError("only length-1 arrays can be converted")

    with pytest.raises(TypeError, match="tolerance"):
        validate(headers=signed(), body=BODY, secret=SECRET, tolerance=Broken())  # type: ignore[arg-type]


def test_finite_tolerances_of_any_numeric_type_work() -> None:
    from decimal import Decimal

    for tolerance in (0.5 + 5, 300, Decimal(300)):
        assert validate(headers=signed(), body=BODY, secret=SECRET, tolerance=tolerance)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("webhook-id", "msg_1\r\nX-Injected: 1", InvalidSignatureError),
        ("webhook-id", "msg_\x00", InvalidSignatureError),
        ("webhook-id", "msg_\udcff", InvalidSignatureError),
        ("webhook-id", "msg_\ud800", InvalidSignatureError),
        ("webhook-timestamp", "1614265330\r\n", InvalidTimestampError),
        ("webhook-timestamp", "\r\n", InvalidTimestampError),
        ("webhook-signature", "v1,\r\nv1,AAAA", InvalidSignatureError),
        ("webhook-signature", "v1,é" * 3, InvalidSignatureError),
        ("webhook-signature", "v1,\ud800", InvalidSignatureError),
        ("webhook-signature", ",,,", InvalidSignatureError),
        ("webhook-signature", "\r\n\t ", InvalidSignatureError),
        ("webhook-id", "m" * 1_000_000, InvalidSignatureError),
        ("webhook-signature", "v1,AAAA " * 200_000, InvalidSignatureError),
        ("webhook-timestamp", "1" * 1_000_000, InvalidTimestampError),
    ],
)
def test_hostile_header_values_raise_webhook_errors(name: str, value: str, error: type[WebhookError]) -> None:
    headers = {**signed(stamp=1614265330), name: value}
    with pytest.raises(error):
        validate(headers=headers, body=BODY, secret=SECRET, tolerance=None)


def test_crlf_between_signatures_is_whitespace_like_any_other() -> None:
    headers = signed()
    headers["webhook-signature"] = "v1,AAAA\r\n" + headers["webhook-signature"] + "\r\n"
    assert validate(headers=headers, body=BODY, secret=SECRET)


def test_a_body_with_a_lone_surrogate_is_an_invalid_signature() -> None:
    with pytest.raises(InvalidSignatureError):
        validate(headers=signed(), body=BODY + "\ud800", secret=SECRET)


def test_a_body_decoded_with_surrogateescape_validates_against_its_bytes() -> None:
    raw = b'{"caption": "caf\xe9"}'  # Latin-1 bytes: not UTF-8
    stamp = int(time.time())
    headers = {"webhook-id": "m", "webhook-timestamp": str(stamp)}
    headers["webhook-signature"] = sign(id="m", timestamp=stamp, body=raw, secret=SECRET)
    assert validate(headers=headers, body=raw, secret=SECRET)
    assert validate(headers=headers, body=raw.decode("utf-8", "surrogateescape"), secret=SECRET)


def test_empty_header_values_are_missing_headers() -> None:
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        with pytest.raises(MissingWebhookHeaderError):
            validate(headers={**signed(), name: ""}, body=BODY, secret=SECRET)


_header_text = st.one_of(st.text(max_size=60), st.binary(max_size=60), st.none())


@settings(max_examples=400, deadline=None)
@given(
    id=_header_text,
    stamp=st.one_of(_header_text, st.integers(), st.from_regex(r"\A[0-9]{1,40}\Z")),
    signature=_header_text,
    body=st.one_of(st.text(max_size=60), st.binary(max_size=60)),
    tolerance=st.one_of(st.none(), st.floats(min_value=0, max_value=1e300), st.integers(0, 10**30)),
)
def test_any_header_values_give_a_webhook_error_and_nothing_else(
    id: object, stamp: object, signature: object, body: object, tolerance: object
) -> None:
    headers = {"webhook-id": id, "webhook-timestamp": stamp, "webhook-signature": signature}
    with pytest.raises(WebhookError):
        validate(headers=headers, body=body, secret=SECRET, tolerance=tolerance)  # type: ignore[arg-type]
