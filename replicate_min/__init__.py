"""replicate_min: a standard-library-only client for Replicate's predictions API.

``import replicate_min as replicate`` runs code written for the official client's
predictions surface. Importing this package loads no ``urllib.request``,
``http.client``, ``ssl`` or ``asyncio``: they load on first use.
"""

from typing import Any as _Any
from typing import AsyncIterator as _AsyncIterator
from typing import Dict as _Dict
from typing import Iterator as _Iterator
from typing import Optional as _Optional

from . import exceptions as exceptions  # public submodules, as in the official client
from . import webhooks as webhooks
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
from ._files import File
from ._pagination import Page, async_paginate, paginate
from ._prediction import Prediction, Predictions, Progress
from ._sse import ServerSentEvent
from ._version import __version__

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "Client",
    "File",
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
    "async_run",
    "async_stream",
    "default_client",
    "paginate",
    "predictions",
    "run",
    "stream",
]


def run(ref: str, input: _Optional[_Dict[str, _Any]] = None, **options: _Any) -> _Any:
    """``default_client().run(...)``: runs a model and returns its output. See ``Client.run``."""
    return default_client().run(ref, input, **options)


async def async_run(ref: str, input: _Optional[_Dict[str, _Any]] = None, **options: _Any) -> _Any:
    """``default_client().async_run(...)``. See ``Client.run``."""
    return await default_client().async_run(ref, input, **options)


def stream(ref: str, input: _Optional[_Dict[str, _Any]] = None, **options: _Any) -> _Iterator[ServerSentEvent]:
    """``default_client().stream(...)``: creates a prediction and yields its events."""
    return default_client().stream(ref, input, **options)


def async_stream(
    ref: str, input: _Optional[_Dict[str, _Any]] = None, **options: _Any
) -> _AsyncIterator[ServerSentEvent]:
    """``default_client().async_stream(...)``."""
    return default_client().async_stream(ref, input, **options)


def __getattr__(name: str) -> _Any:
    # ``replicate_min.predictions`` is the default client's, created on first use so
    # that REPLICATE_API_TOKEN and REPLICATE_BASE_URL may be set after the import.
    if name == "predictions":
        return default_client().predictions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
