"""Webhook signatures (the Standard Webhooks scheme Replicate uses) and the signing secret.

A webhook request carries ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``
(space-separated ``v1,<base64>`` entries). The signature is HMAC-SHA256 over
``id.timestamp.body`` (the raw body) keyed with the base64-decoded part of the
``whsec_`` secret.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ._exceptions import ReplicateException, ValidationError, excerpt

TYPE_CHECKING = False  # typing costs milliseconds to import: only type checkers read it
if TYPE_CHECKING:
    from typing import Any, Mapping, Optional, Union

    from ._client import Client

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


class WebhookError(ReplicateException, ValueError):
    """A webhook could not be verified. Catch this to reject the request.

    It is also a ``ValueError``, as the official client's webhook errors are, so an
    ``except ValueError`` written for that client catches it.
    """


#: The official client's name for the base class (``replicate.webhook.WebhookValidationError``).
WebhookValidationError = WebhookError


class MissingWebhookHeaderError(WebhookError):
    """A ``webhook-id``, ``webhook-timestamp`` or ``webhook-signature`` header is missing."""


class MissingWebhookBodyError(WebhookError):
    """The webhook body was not given."""


class InvalidSecretKeyError(WebhookError):
    """The signing secret is not ``whsec_`` followed by base64."""


class InvalidTimestampError(WebhookError):
    """The timestamp is not a number, or is outside the tolerance (stale or from the future)."""


class InvalidSignatureError(WebhookError):
    """No ``v1`` signature matches the body: it was tampered with or signed with another secret."""


@dataclass(frozen=True)
class WebhookSigningSecret:
    """The signing secret, ``key`` being ``whsec_<base64>``."""

    key: str

    def __repr__(self) -> str:
        return "WebhookSigningSecret(key='whsec_…')"


def _key(secret: Union[str, WebhookSigningSecret, Any]) -> bytes:
    import base64
    import binascii

    key = getattr(secret, "key", secret)
    if not isinstance(key, str) or not key.startswith("whsec_"):
        raise InvalidSecretKeyError("the webhook secret must be a string starting with 'whsec_'")
    try:
        return base64.b64decode(key[len("whsec_") :], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSecretKeyError("the webhook secret after 'whsec_' is not valid base64") from None


def sign(
    *, id: str, timestamp: Union[int, str], body: Union[bytes, str], secret: Union[str, WebhookSigningSecret]
) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) for a message: for tests of your handler."""
    import base64
    import hashlib  # OpenSSL bindings: loaded on first use, not at import
    import hmac

    data = body.encode() if isinstance(body, str) else body
    digest = hmac.new(_key(secret), f"{id}.{timestamp}.".encode() + data, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def validate(
    *,
    headers: Mapping[str, str],
    body: Union[bytes, str, None],
    secret: Union[str, WebhookSigningSecret],
    tolerance: Optional[float] = DEFAULT_TOLERANCE,
) -> bool:
    """Verifies a webhook request; returns ``True`` or raises.

    Args:
        headers: the request's headers, names in any case.
        body: the raw request body, as received (bytes, or the same text).
        secret: ``whsec_...`` from ``client.webhooks.default.secret()``.
        tolerance: seconds the timestamp may be off the clock; ``None`` skips the check.

    Raises:
        MissingWebhookHeaderError, MissingWebhookBodyError, InvalidSecretKeyError,
        InvalidTimestampError, InvalidSignatureError: all ``WebhookError``.
    """
    lowered = {str(name).lower(): value for name, value in headers.items()}
    values = {}
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        value = lowered.get(name)
        if not value:
            raise MissingWebhookHeaderError(f"the webhook request has no {name!r} header")
        values[name] = value
    if body is None:
        raise MissingWebhookBodyError("the webhook body is missing")
    try:
        timestamp = int(values["webhook-timestamp"])
    except ValueError:
        raise InvalidTimestampError(
            f"webhook-timestamp {excerpt(values['webhook-timestamp'])} is not a number"
        ) from None
    if tolerance is not None:
        skew = time.time() - timestamp
        if abs(skew) > tolerance:
            direction = "old" if skew > 0 else "in the future"
            raise InvalidTimestampError(
                f"the webhook timestamp is {abs(skew):.0f} s {direction}, over the {tolerance:g} s tolerance"
            )
    import hmac

    expected = sign(id=values["webhook-id"], timestamp=values["webhook-timestamp"], body=body, secret=secret)
    for entry in values["webhook-signature"].split():
        if entry.startswith("v1,") and hmac.compare_digest(entry.encode(), expected.encode()):
            return True
    raise InvalidSignatureError("no webhook signature matches the body")


class _DefaultWebhook:
    def __init__(self, client: Client) -> None:
        self._client = client

    def secret(self) -> WebhookSigningSecret:
        """Fetches the signing secret (``GET /v1/webhooks/default/secret``). Cache it."""
        data = self._client._request("GET", "/v1/webhooks/default/secret")
        if not isinstance(data, dict) or not isinstance(data.get("key"), str):
            raise ValidationError("the webhook secret response has no 'key' string", field="key")
        return WebhookSigningSecret(data["key"])

    async def async_secret(self) -> WebhookSigningSecret:
        """Async ``secret``."""
        import asyncio

        return await asyncio.to_thread(self.secret)


class Webhooks:
    """``client.webhooks``: ``default.secret()`` and ``validate()``."""

    validate = staticmethod(validate)

    def __init__(self, client: Client) -> None:
        self.default = _DefaultWebhook(client)

    def __repr__(self) -> str:
        return "<Webhooks>"
