"""Faults the fake server can inject, as typed values.

A request fault applies to the next ``times`` requests it matches (``method``, and ``path`` as
a prefix); a stream fault to the next ``times`` streams, after ``after`` events. Pass one to
``FakeReplicate.inject``. The older string API (``fail_next(kind=...)``,
``stream_fault(kind, ...)``) builds these through :func:`request_fault` and :func:`stream_fault`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Type, Union

__all__ = [
    "Delay",
    "Drop",
    "DropAfter",
    "ErrorStatus",
    "Fault",
    "Hang",
    "HangAfter",
    "HtmlError",
    "NotObject",
    "RequestFault",
    "StreamDrop",
    "StreamFault",
    "StreamGarbage",
    "StreamOversized",
    "StreamStall",
    "Truncated",
]


@dataclass(frozen=True)
class RequestFault:
    """Base of the faults applied to a request."""

    times: int = 1
    method: Optional[str] = None
    path: Optional[str] = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (self.path is None or path.startswith(self.path))


@dataclass(frozen=True)
class ErrorStatus(RequestFault):
    """Answer ``status`` with ``headers`` and a problem body, or ``body`` (bytes) if given."""

    status: int = 500
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Optional[bytes] = None


@dataclass(frozen=True)
class HtmlError(RequestFault):
    """An HTML error page (as a proxy in front of the API would send) with ``status``."""

    status: int = 502


@dataclass(frozen=True)
class Drop(RequestFault):
    """Close the connection without handling the request."""


@dataclass(frozen=True)
class DropAfter(RequestFault):
    """Handle the request (e.g. create the prediction), then close without answering."""


@dataclass(frozen=True)
class Hang(RequestFault):
    """Never answer: wait ``seconds`` of the fake's clock (60 if 0) or until stopped, then close."""

    seconds: float = 0.0


@dataclass(frozen=True)
class HangAfter(RequestFault):
    """Handle the request (e.g. create the prediction), then never answer: wait ``seconds`` of
    the fake's clock (60 if 0) or until stopped, then close. A client killed meanwhile never
    learns the prediction's id."""

    seconds: float = 0.0


@dataclass(frozen=True)
class Truncated(RequestFault):
    """A 200 JSON body cut in half."""


@dataclass(frozen=True)
class NotObject(RequestFault):
    """A 200 JSON array around the real body."""


@dataclass(frozen=True)
class Delay(RequestFault):
    """Wait ``seconds`` of the fake's clock, then answer normally."""

    seconds: float = 0.0


@dataclass(frozen=True)
class StreamFault:
    """Base of the faults applied to a stream, once ``after`` events have been sent."""

    after: int = 0
    times: int = 1


@dataclass(frozen=True)
class StreamDrop(StreamFault):
    """Close the connection."""


@dataclass(frozen=True)
class StreamStall(StreamFault):
    """Send nothing for ``seconds`` of the fake's clock, then close."""

    seconds: float = 1.0


@dataclass(frozen=True)
class StreamGarbage(StreamFault):
    """Bytes that are neither UTF-8 nor SSE, then close."""


@dataclass(frozen=True)
class StreamOversized(StreamFault):
    """A line of ``size`` bytes with no end, then close."""

    size: int = 0


Fault = Union[RequestFault, StreamFault]

_REQUEST_KINDS: Dict[str, Type[RequestFault]] = {
    "status": ErrorStatus,
    "html": HtmlError,
    "drop": Drop,
    "drop_after": DropAfter,
    "hang": Hang,
    "hang_after": HangAfter,
    "truncated": Truncated,
    "not_object": NotObject,
    "delay": Delay,
}
_STREAM_KINDS: Dict[str, Type[StreamFault]] = {
    "drop": StreamDrop,
    "stall": StreamStall,
    "garbage": StreamGarbage,
    "oversized": StreamOversized,
}


def request_fault(
    kind: str,
    *,
    status: int,
    headers: Optional[Mapping[str, str]],
    body: Any,
    seconds: float,
    times: int,
    method: Optional[str],
    path: Optional[str],
) -> RequestFault:
    """The typed fault for ``fail_next(kind, ...)``'s arguments.

    Raises:
        ValueError: for an unknown ``kind``.
    """
    cls = _REQUEST_KINDS.get(kind)
    if cls is None:
        raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(_REQUEST_KINDS)}")
    common: Dict[str, Any] = {"times": times, "method": method, "path": path}
    if cls is ErrorStatus:
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        return ErrorStatus(status=status, headers=dict(headers or {}), body=body, **common)
    if cls is HtmlError:
        return HtmlError(status=status, **common)
    if cls is Hang:
        return Hang(seconds=seconds, **common)
    if cls is HangAfter:
        return HangAfter(seconds=seconds, **common)
    if cls is Delay:
        return Delay(seconds=seconds, **common)
    return cls(**common)


def stream_fault(kind: str, *, after: int, seconds: float, size: int, times: int) -> StreamFault:
    """The typed fault for ``stream_fault(kind, ...)``'s arguments.

    Raises:
        ValueError: for an unknown ``kind``.
    """
    cls = _STREAM_KINDS.get(kind)
    if cls is None:
        raise ValueError(f"unknown stream fault {kind!r}; known: {', '.join(_STREAM_KINDS)}")
    if cls is StreamStall:
        return StreamStall(after=after, times=times, seconds=seconds)
    if cls is StreamOversized:
        return StreamOversized(after=after, times=times, size=size)
    return cls(after=after, times=times)
