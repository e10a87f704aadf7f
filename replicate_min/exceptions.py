"""The error classes, under the module name the official client uses.

``from replicate_min.exceptions import ModelError, ReplicateError`` works as
``from replicate.exceptions import ...`` does. See ``_exceptions`` for the hierarchy.
"""

from ._exceptions import (
    APIConnectionError,
    APITimeoutError,
    ModelError,
    PredictionCanceledError,
    ReplicateError,
    ReplicateException,
    StreamError,
    ValidationError,
    WaitTimeoutError,
)

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "ModelError",
    "PredictionCanceledError",
    "ReplicateError",
    "ReplicateException",
    "StreamError",
    "ValidationError",
    "WaitTimeoutError",
]
