"""replicate_min: a standard-library-only client for Replicate's predictions API.

``import replicate_min as replicate`` runs code written for the official client's
predictions surface. Importing this package loads no ``urllib.request``,
``http.client``, ``ssl`` or ``asyncio``: they load on first use.
"""

from typing import Any as _Any

from ._client import Client, default_client
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
from ._pagination import Page, async_paginate, paginate
from ._prediction import Prediction, Predictions, Progress
from ._sse import ServerSentEvent
from ._version import __version__

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "Client",
    "ModelError",
    "Page",
    "Prediction",
    "PredictionCanceledError",
    "Predictions",
    "Progress",
    "ReplicateError",
    "ReplicateException",
    "ServerSentEvent",
    "StreamError",
    "ValidationError",
    "WaitTimeoutError",
    "__version__",
    "async_paginate",
    "default_client",
    "paginate",
    "predictions",
]


def __getattr__(name: str) -> _Any:
    # ``replicate_min.predictions`` is the default client's, created on first use so
    # that REPLICATE_API_TOKEN and REPLICATE_BASE_URL may be set after the import.
    if name == "predictions":
        return default_client().predictions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
