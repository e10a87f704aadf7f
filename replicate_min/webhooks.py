"""Verifying Replicate webhooks: ``replicate_min.webhooks.validate(headers=..., body=..., secret=...)``.

``replicate_min.webhooks.default.secret()`` fetches the signing secret with the default
client, as ``replicate.webhooks.default.secret()`` does with the official one (``default``
is resolved on first use, so it is not in ``__all__``).
"""

from __future__ import annotations

from ._webhooks import (
    InvalidSecretKeyError,
    InvalidSignatureError,
    InvalidTimestampError,
    MissingWebhookBodyError,
    MissingWebhookHeaderError,
    WebhookError,
    WebhookSigningSecret,
    WebhookValidationError,
    sign,
    validate,
)

TYPE_CHECKING = False  # typing costs milliseconds to import: only type checkers read it
if TYPE_CHECKING:
    from typing import Any as _Any

__all__ = [
    "InvalidSecretKeyError",
    "InvalidSignatureError",
    "InvalidTimestampError",
    "MissingWebhookBodyError",
    "MissingWebhookHeaderError",
    "WebhookError",
    "WebhookSigningSecret",
    "WebhookValidationError",
    "sign",
    "validate",
]


def __getattr__(name: str) -> _Any:
    if name == "default":
        from ._client import default_client

        return default_client().webhooks.default
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
