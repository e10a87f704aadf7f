"""The error classes, under the module name the official client uses.

``from replicate_min.exceptions import ModelError, ReplicateError`` works as
``from replicate.exceptions import ...`` does. Every error the library raises is here;
the hierarchy is drawn in ``_exceptions``.
"""

from ._exceptions import (
    APIConnectionError,
    APITimeoutError,
    InvalidSecretKeyError,
    InvalidSignatureError,
    InvalidTimestampError,
    MissingWebhookBodyError,
    MissingWebhookHeaderError,
    ModelError,
    PredictionCanceledError,
    ReplicateError,
    ReplicateException,
    ResponseTooLargeError,
    StreamError,
    ValidationError,
    WaitTimeoutError,
    WebhookError,
    WebhookValidationError,
)

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "InvalidSecretKeyError",
    "InvalidSignatureError",
    "InvalidTimestampError",
    "MissingWebhookBodyError",
    "MissingWebhookHeaderError",
    "ModelError",
    "PredictionCanceledError",
    "ReplicateError",
    "ReplicateException",
    "ResponseTooLargeError",
    "StreamError",
    "ValidationError",
    "WaitTimeoutError",
    "WebhookError",
    "WebhookValidationError",
]
