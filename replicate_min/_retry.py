"""The retry policy: a pure value that says whether, and after how long, to try again.

No sockets, no clocks, no sleeps: the transport asks ``RetryPolicy.delay`` after each
failed attempt and does the waiting itself, so the policy is tested as plain arithmetic.
"""

from __future__ import annotations

from typing import Any, Optional

from ._defaults import DEFAULT_MAX_BACKOFF, DEFAULT_MAX_RETRIES, DEFAULT_MAX_RETRY_AFTER, DEFAULT_RETRY_BACKOFF

__all__ = ["RETRY_STATUSES", "Failure", "RetryPolicy", "parse_retry_after"]

#: Statuses a request that is safe to repeat is retried on (429 is retried for every request).
RETRY_STATUSES = frozenset({500, 502, 503, 504})


class Failure:
    """How an attempt failed without an HTTP answer (the names the policy decides on)."""

    #: Refused, reset or timed out while connecting: nothing reached the server.
    NOT_SENT = "not_sent"
    #: A DNS or TLS failure: nothing reached the server, and trying again will not help.
    UNREACHABLE = "unreachable"
    #: The connection broke after the request may have reached the server.
    SENT = "sent"


class RetryPolicy:
    """When to retry, as urllib3's ``Retry`` does it: an immutable value.

    (A plain class with slots rather than a dataclass: it is made on a client's first
    request, where a dataclass's code generation would cost a cold start half a millisecond.)

    Args:
        max_retries: retries after the first attempt (0 disables retrying).
        backoff: the first retry's delay in seconds; it doubles each time, with jitter.
        max_backoff: the longest computed backoff delay.
        max_retry_after: the longest a server's ``Retry-After`` is honoured for.
    """

    __slots__ = ("backoff", "max_backoff", "max_retries", "max_retry_after")

    max_retries: int
    backoff: float
    max_backoff: float
    max_retry_after: float

    def __init__(
        self,
        max_retries: int = DEFAULT_MAX_RETRIES,
        backoff: float = DEFAULT_RETRY_BACKOFF,
        max_backoff: float = DEFAULT_MAX_BACKOFF,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "max_retries", max_retries)
        set_(self, "backoff", backoff)
        set_(self, "max_backoff", max_backoff)
        set_(self, "max_retry_after", max_retry_after)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a RetryPolicy is immutable: make a new one")

    def _values(self) -> tuple[int, float, float, float]:
        return (self.max_retries, self.backoff, self.max_backoff, self.max_retry_after)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RetryPolicy) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return "RetryPolicy(max_retries={}, backoff={}, max_backoff={}, max_retry_after={})".format(*self._values())

    def retries_status(self, status: int, *, idempotent: bool) -> bool:
        """True when an answer with ``status`` may be tried again: 429 always (a throttled
        request did nothing), 500/502/503/504 only for a request that is safe to repeat."""
        return status == 429 or (idempotent and status in RETRY_STATUSES)

    def delay(
        self,
        attempt: int,
        *,
        idempotent: bool,
        status: Optional[int] = None,
        failure: Optional[str] = None,
        retry_after: Optional[float] = None,
        jitter: float = 1.0,
    ) -> Optional[float]:
        """Seconds to wait before the next attempt, or ``None`` to stop.

        Args:
            attempt: how many retries were made already (0 after the first attempt).
            idempotent: the request is safe to repeat (GET, cancel); a create is not,
                so it is only retried when it certainly did not run (429, not sent).
            status: the HTTP status of the answer, if there was one.
            failure: a ``Failure`` name when there was no answer.
            retry_after: the server's ``Retry-After`` in seconds, if it sent one.
            jitter: a number in [0, 1]; the backoff is scaled into [50%, 100%] by it.
        """
        if attempt >= self.max_retries:
            return None
        if status is not None:
            if not self.retries_status(status, idempotent=idempotent):
                return None
        elif failure == Failure.SENT:
            if not idempotent:
                return None
        elif failure != Failure.NOT_SENT:
            return None
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        return self.backoff_delay(attempt, jitter)

    def backoff_delay(self, attempt: int, jitter: float = 1.0) -> float:
        """The backoff before retry ``attempt`` + 1: ``backoff`` doubled ``attempt`` times, at most
        ``max_backoff``, scaled into [50%, 100%] by ``jitter`` (1.0: the whole delay)."""
        return min(self.backoff * 2.0**attempt, self.max_backoff) * (0.5 + 0.5 * min(max(jitter, 0.0), 1.0))


def parse_retry_after(header: Optional[str], body: bytes, now: float) -> Optional[float]:
    """Seconds to wait from a ``Retry-After`` header (seconds or HTTP-date), else a body's ``retry_after``.

    Any value that cannot be read (garbage, absurd dates, NaN, deep JSON) is ignored,
    as RFC 9110 lets a client do; ``now`` is the wall-clock time for HTTP-dates.
    """
    seconds: Optional[float] = None
    if header:
        try:
            seconds = float(header)  # RFC 9110 asks for whole seconds; "1.5" is read kindly
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                seconds = parsedate_to_datetime(header).timestamp() - now
            except (TypeError, ValueError, IndexError, OverflowError):
                seconds = None
    if seconds is None and body and len(body) <= 65536:
        import json

        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            payload = None
        value = payload.get("retry_after") if isinstance(payload, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value == value:  # not NaN, which is ignored as below
                seconds = float(value) if abs(value) < 1e9 else float("inf")
    if seconds is None or seconds != seconds:  # absent, or NaN
        return None
    return seconds
