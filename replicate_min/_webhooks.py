"""Webhook signatures (the Standard Webhooks scheme Replicate uses) and the signing secret.

A webhook request carries ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``
(space-separated ``v1,<base64>`` entries). The signature is HMAC-SHA256 over
``id.timestamp.body`` (the raw body) keyed with the base64-decoded part of the
``whsec_`` secret.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional, Union

from ._exceptions import (
    InvalidSecretKeyError,
    InvalidSignatureError,
    InvalidTimestampError,
    MissingWebhookBodyError,
    MissingWebhookHeaderError,
    ValidationError,
    WebhookError,
    WebhookValidationError,
    excerpt,
)
from ._lazy import Deferred

if TYPE_CHECKING:
    from . import _requester
else:  # the requester is only needed once a Webhooks is made: imported when a hint is resolved
    _requester = Deferred(f"{__package__}._requester")

__all__ = [
    "InvalidSecretKeyError",
    "InvalidSignatureError",
    "InvalidTimestampError",
    "MissingWebhookBodyError",
    "MissingWebhookHeaderError",
    "WebhookError",
    "WebhookSigningSecret",
    "WebhookValidationError",
    "Webhooks",
    "sign",
    "validate",
]

#: Seconds a webhook's timestamp may differ from the clock by default.
DEFAULT_TOLERANCE = 300


@dataclass(frozen=True)
class WebhookSigningSecret:
    """The signing secret, ``key`` being ``whsec_<base64>``."""

    key: str

    def __repr__(self) -> str:
        return "WebhookSigningSecret(key='whsec_…')"


#: Longest ``webhook-id`` or ``webhook-signature`` value accepted, in characters. Real ones are
#: tens of characters; the cap keeps a hostile header from costing more than a bounded HMAC.
MAX_HEADER_LENGTH = 8192

#: Most digits a ``webhook-timestamp`` may have: enough for any real date, few enough that the
#: subtraction from ``time.time()`` cannot overflow a float.
_MAX_TIMESTAMP_DIGITS = 20

_HEADER_NAMES = ("webhook-id", "webhook-timestamp", "webhook-signature")

#: The official client's message for a bad secret; it appends the secret, which we never show.
_BAD_KEY = "Invalid secret key format"


def _key(secret: Union[str, WebhookSigningSecret, Any]) -> bytes:
    import base64
    import binascii

    if secret is None:
        raise InvalidSecretKeyError("Missing webhook signing secret", detail="no webhook signing secret was given")
    key = getattr(secret, "key", secret)
    if not isinstance(key, str) or not key.startswith("whsec_"):
        raise InvalidSecretKeyError(_BAD_KEY, detail="the webhook secret must be a string starting with 'whsec_'")
    try:
        decoded = base64.b64decode(key[len("whsec_") :], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecretKeyError(_BAD_KEY, detail="the webhook secret after 'whsec_' is not valid base64") from None
    if not decoded:
        # An empty HMAC key is a key everybody knows: anyone could sign a forged webhook.
        raise InvalidSecretKeyError(_BAD_KEY, detail="the webhook secret is empty after 'whsec_'")
    return decoded


def _utf8(text: str) -> bytes:
    # surrogateescape gives back the bytes a framework decoded that way (PEP 383)
    return text.encode("utf-8", "surrogateescape")


def _digest(key: bytes, id: str, timestamp: str, data: bytes) -> str:
    import base64
    import hashlib  # OpenSSL bindings: loaded on first use, not at import
    import hmac

    digest = hmac.new(key, _utf8(f"{id}.{timestamp}.") + data, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign(
    *, id: str, timestamp: Union[int, str], body: Union[bytes, str], secret: Union[str, WebhookSigningSecret]
) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) for a message: for tests of your handler.

    Raises:
        TypeError: ``id`` is not a string, ``timestamp`` not an int or a string, ``body`` not
            bytes or a string.
        ValueError: one of them holds a lone surrogate (no UTF-8 for it).
    """
    if not isinstance(id, str):
        raise TypeError(f"id must be a string, got {excerpt(id)}")
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, str)):
        raise TypeError(f"timestamp must be an int or a string, got {excerpt(timestamp)}")
    if not isinstance(body, (bytes, bytearray, memoryview, str)):
        raise TypeError(f"body must be bytes or a string, got {excerpt(body)}")
    try:
        return _digest(
            _key(secret),
            id,
            str(int.__int__(timestamp) if isinstance(timestamp, int) else timestamp),
            _utf8(body) if isinstance(body, str) else bytes(body),
        )
    except UnicodeEncodeError:
        raise ValueError("id, timestamp and body must be text with a UTF-8 form (no lone surrogates)") from None


def _check_tolerance(tolerance: object) -> Optional[float]:
    """``None``, or the tolerance as finite seconds >= 0: NaN or infinity would silently turn the check off."""
    if tolerance is None:
        return None
    try:
        if isinstance(tolerance, (bool, str, bytes, bytearray)):
            raise TypeError  # float() would parse a string: a number was meant
        seconds = float(tolerance)  # type: ignore[arg-type]  # int, float, Decimal, numpy: anything with __float__
    except OverflowError:
        seconds = float("inf")
    except (TypeError, ValueError):
        raise TypeError(f"tolerance must be a number of seconds or None, got {excerpt(tolerance)}") from None
    if not 0 <= seconds < float("inf"):  # NaN fails every comparison, so it lands here too
        raise ValueError(
            f"tolerance must be a finite number of seconds >= 0 (None skips the check), got {excerpt(tolerance)}"
        )
    return seconds


def _text(value: object) -> Optional[str]:
    """A header name or value as text: ``bytes`` (ASGI, raw headers) are Latin-1 as HTTP defines them."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a timestamp given as a number, which the official client signs as its digits
    return None


def _not_headers(headers: object) -> TypeError:
    return TypeError(f"headers must be a mapping or (name, value) pairs, got {excerpt(headers)}")


def _webhook_headers(headers: Any) -> Dict[str, str]:
    """The three webhook headers from a mapping (any case) or from ``(name, value)`` pairs."""
    if not headers:
        raise MissingWebhookHeaderError("Missing webhook headers", detail="the webhook request has no headers")
    if isinstance(headers, type):  # the class, not a mapping: its items() is unbound
        raise _not_headers(headers)
    items = getattr(headers, "items", None)
    try:
        source: Any = items() if callable(items) else headers
        pairs = iter(source)
    except (TypeError, ValueError):  # not iterable, or a closed stream
        raise _not_headers(headers) from None
    found: Dict[str, str] = {}
    for pair in pairs:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise _not_headers(headers)
        name, value = _text(pair[0]), pair[1]
        if name is None or name.lower() not in _HEADER_NAMES:
            continue
        text = _text(value)
        if text is None and value is not None:
            raise TypeError(f"header {name!r} must be text, got {excerpt(value)}")
        if text:  # an empty value is a missing header, as in the official client
            found[name.lower()] = text
    for name in _HEADER_NAMES:
        if name not in found:
            raise MissingWebhookHeaderError(
                f"Missing webhook {name[len('webhook-') :]}", detail=f"the webhook request has no {name!r} header"
            )
        if name != "webhook-timestamp" and len(found[name]) > MAX_HEADER_LENGTH:
            raise InvalidSignatureError(
                f"the {name!r} header is {len(found[name])} characters long, over the {MAX_HEADER_LENGTH} limit"
            )
    return found


#: Where request objects keep their raw body, in the order tried, and whether to call it if it is callable.
_BODY_SOURCES = (("content", False), ("body", True), ("get_data", True), ("data", False), ("read", True))


def _request_body(request: Any) -> Any:
    """The raw body of a request object from a web framework or HTTP library.

    ``content`` (httpx, as the official client reads it), ``body`` (Django), ``get_data()``
    (Flask / Werkzeug), ``data`` (``urllib.request.Request``), then ``read()``. An async
    framework's coroutine (Starlette ``body()``, aiohttp ``read()``) cannot be awaited
    here: it is refused with a TypeError that says what to pass instead.
    """
    for name, call in _BODY_SOURCES:
        try:
            value = getattr(request, name, None)
        except RuntimeError:  # httpx.RequestNotRead: a streamed request, which read() below reads
            continue
        if call and callable(value):
            value = value()
            if hasattr(value, "__await__"):
                close = getattr(value, "close", None)
                if callable(close):
                    close()  # no "coroutine was never awaited" warning
                raise TypeError(
                    f"request.{name}() is a coroutine: call validate(headers=request.headers, "
                    f"body=await request.{name}(), secret=...) instead"
                )
        if isinstance(value, (bytes, bytearray, memoryview, str)):
            return value
    return None


def validate(
    *,
    request: Any = None,
    headers: Any = None,
    body: Union[bytes, str, None] = None,
    secret: Union[str, WebhookSigningSecret, None] = None,
    tolerance: Optional[float] = DEFAULT_TOLERANCE,
) -> bool:
    """Verifies a webhook request; returns ``True`` or raises.

    Pass either ``request`` or ``headers`` and ``body``.

    Args:
        request: the incoming request object: its ``headers``, and its raw body from
            ``content`` (httpx, as the official client takes it), ``body`` (Django),
            ``get_data()`` (Flask), ``data`` or ``read()``.
        headers: the request's headers, names in any case: a mapping, or ``(name, value)`` pairs.
        body: the raw request body, as received (bytes, or the same text).
        secret: ``whsec_...`` from ``client.webhooks.default.secret()``.
        tolerance: seconds the timestamp may be off the clock (default 300); ``None`` skips the check.

    Raises:
        MissingWebhookHeaderError, MissingWebhookBodyError, InvalidSecretKeyError,
        InvalidTimestampError, InvalidSignatureError: all ``WebhookError``, which is a ``ValueError``.
        ValueError: ``tolerance`` is negative, NaN or infinite, or both ``request`` and
            ``headers``/``body`` were given.
        TypeError: ``tolerance`` is not a number, ``body`` is not bytes or text (a parsed
            JSON object cannot be verified), or the body is an un-awaited coroutine.
    """
    limit = _check_tolerance(tolerance)
    if request is not None:
        if headers is not None or body is not None:
            raise ValueError("pass either request= or headers= and body=, not both")
        headers = getattr(request, "headers", None)
    key = _key(secret)
    values = _webhook_headers(headers)
    if request is not None:
        body = _request_body(request)
    if body is None or (isinstance(body, (bytes, bytearray, memoryview, str)) and not len(body)):
        raise MissingWebhookBodyError("Missing webhook body", detail="the webhook body is missing")
    if not isinstance(body, (bytes, bytearray, memoryview, str)):
        raise TypeError(f"body must be the raw request body as bytes or text, got {type(body).__name__}")
    stamp = values["webhook-timestamp"]
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= _MAX_TIMESTAMP_DIGITS):
        raise InvalidTimestampError(f"webhook-timestamp {excerpt(stamp)} is not a Unix time in seconds")
    if limit is not None:
        skew = time.time() - int(stamp)
        if abs(skew) > limit:
            direction = "old" if skew > 0 else "in the future"
            raise InvalidTimestampError(
                f"Webhook timestamp is outside the allowed tolerance of {tolerance} seconds",
                detail=f"the webhook timestamp is {abs(skew):.0f} s {direction}, over the {limit:g} s tolerance",
            )
    import hmac

    try:
        expected = _digest(key, values["webhook-id"], stamp, _utf8(body) if isinstance(body, str) else bytes(body))
    except UnicodeEncodeError:  # a lone surrogate: text no sender could have signed
        raise InvalidSignatureError("the webhook-id or body is not valid text") from None
    entries = values["webhook-signature"].split()
    for entry in entries:
        if entry.isascii() and hmac.compare_digest(entry, expected):
            return True
    malformed = next((entry for entry in entries if "," not in entry), None)
    if malformed is not None:  # the official client's words, the entry cut and escaped
        shown = malformed if len(malformed) <= 100 and malformed.isprintable() else excerpt(malformed, 100)
        raise InvalidSignatureError(f"Invalid signature format: {shown}", detail="a signature is not 'v1,<base64>'")
    raise InvalidSignatureError("Webhook signature is invalid", detail="no webhook signature matches the body")


class _DefaultWebhook:
    def __init__(self, requester: _requester.Requester) -> None:
        self._requester = requester

    def secret(self) -> WebhookSigningSecret:
        """Fetches the signing secret (``GET /v1/webhooks/default/secret``). Cache it."""
        data = self._requester.request("GET", "/v1/webhooks/default/secret")
        if not isinstance(data, dict) or not isinstance(data.get("key"), str):
            raise ValidationError("the webhook secret response has no 'key' string", field="key")
        return WebhookSigningSecret(data["key"])

    async def async_secret(self) -> WebhookSigningSecret:
        """Async ``secret``."""
        return await self._requester.run_async(self.secret)


class Webhooks:
    """``client.webhooks``: ``default.secret()`` and ``validate()``."""

    validate = staticmethod(validate)

    def __init__(self, requester: _requester.Requester) -> None:
        self.default = _DefaultWebhook(requester)

    def __repr__(self) -> str:
        return "<Webhooks>"
