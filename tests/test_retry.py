"""The retry policy and Retry-After parsing: pure values, tested without sockets, clocks or sleeps."""

from __future__ import annotations

from typing import Optional

import pytest

from replicate_min._retry import Failure, RetryPolicy, parse_retry_after

NOW = 1_700_000_000.0
POLICY = RetryPolicy(max_retries=3, backoff=0.5, max_backoff=8.0, max_retry_after=60.0)


@pytest.mark.parametrize(
    ("header", "body", "expected"),
    [
        ("3", b"", 3.0),
        ("1.5", b"", 1.5),
        ("3600", b"", 3600.0),
        ("-5", b"", -5.0),
        ("soon", b"", None),
        ("nan", b"", None),
        (None, b'{"retry_after": 5}', 5.0),
        (None, b'{"retry_after": "5"}', None),
        (None, b'{"retry_after": true}', None),
        (None, b"<html>", None),
        (None, b"", None),
        ("Tue, 14 Nov 2023 22:13:20 GMT", b"", 0.0),
        ("Tue, 14 Nov 2023 22:13:50 GMT", b"", 30.0),
        # hostile values are ignored or clamped, never raised
        ("Wed, 21 Oct 99999999999999 07:28:00 GMT", b"", None),
        ("9" * 5000, b"", float("inf")),
        ("1e999", b"", float("inf")),
        (None, b"[" * 100_000 + b"]" * 100_000, None),
        (None, b'{"retry_after": 1e308}', float("inf")),
        (None, b'{"retry_after": NaN}', None),
        (None, b'{"retry_after": -Infinity}', float("inf")),
    ],
)
def test_retry_after_parsing(header: Optional[str], body: bytes, expected: Optional[float]) -> None:
    assert parse_retry_after(header, body, NOW) == expected


def test_a_retry_after_is_clamped_to_the_policy_bounds() -> None:
    assert POLICY.delay(0, idempotent=True, status=503, retry_after=float("inf")) == 60.0
    assert POLICY.delay(0, idempotent=True, status=503, retry_after=-5.0) == 0.0
    assert POLICY.delay(0, idempotent=False, status=429, retry_after=3.0) == 3.0


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(max_retries=10, backoff=0.5, max_backoff=8.0)
    assert [policy.delay(n, idempotent=True, status=503, jitter=1.0) for n in range(6)] == [0.5, 1, 2, 4, 8, 8]
    assert policy.delay(0, idempotent=True, status=503, jitter=0.0) == 0.25


def test_retries_stop_after_max_retries() -> None:
    assert POLICY.delay(2, idempotent=True, status=503) is not None
    assert POLICY.delay(3, idempotent=True, status=503) is None
    assert RetryPolicy(max_retries=0).delay(0, idempotent=True, status=429) is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_create_is_never_retried_on_5xx(status: int) -> None:
    assert POLICY.delay(0, idempotent=False, status=status) is None
    assert POLICY.delay(0, idempotent=True, status=status) is not None


@pytest.mark.parametrize("status", [200, 201, 400, 401, 404, 409, 422])
def test_other_statuses_are_never_retried(status: int) -> None:
    assert POLICY.delay(0, idempotent=True, status=status) is None


def test_failures_without_an_answer() -> None:
    # nothing sent: always worth another try; sent: only when the request is idempotent
    assert POLICY.delay(0, idempotent=False, failure=Failure.NOT_SENT) is not None
    assert POLICY.delay(0, idempotent=False, failure=Failure.SENT) is None
    assert POLICY.delay(0, idempotent=True, failure=Failure.SENT) is not None
    # DNS and TLS failures will not get better
    assert POLICY.delay(0, idempotent=True, failure=Failure.UNREACHABLE) is None


def test_the_backoff_doubles_up_to_its_cap_and_jitter_scales_it_into_the_upper_half() -> None:
    policy = RetryPolicy(backoff=0.5, max_backoff=8.0)
    assert [policy.backoff_delay(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert policy.backoff_delay(1, jitter=0.0) == 0.5 and policy.backoff_delay(1, jitter=7.0) == 1.0
    assert policy.delay(1, idempotent=True, status=503, jitter=0.0) == policy.backoff_delay(1, 0.0)
