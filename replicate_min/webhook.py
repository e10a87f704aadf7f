"""Webhook verification under the official client's module path, ``replicate.webhook``.

``from replicate.webhook import InvalidSignatureError`` keeps working after
``import replicate_min as replicate``: the same objects as ``replicate_min.webhooks``.
"""

from __future__ import annotations

from ._webhooks import (
    InvalidSecretKeyError,
    InvalidSignatureError,
    InvalidTimestampError,
    MissingWebhookBodyError,
    MissingWebhookHeaderError,
    WebhookError,
    Webhooks,
    WebhookSigningSecret,
    WebhookValidationError,
    sign,
    validate,
)

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
