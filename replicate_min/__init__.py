"""replicate_min: a standard-library-only client for Replicate's predictions API.

``import replicate_min as replicate`` runs code written for the official client's
predictions surface.

Importing this package loads almost nothing: each public name below is imported from
its private module the first time it is used (PEP 562), and ``urllib.request``,
``http.client``, ``ssl`` and ``asyncio`` wait for the first request. A serverless
function pays only for what it calls.
"""

from __future__ import annotations

from ._version import __version__

TYPE_CHECKING = False  # typing costs milliseconds to import: only type checkers read it
if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from typing import Any, AsyncIterator, Dict, Iterator, Optional

    from . import exceptions as exceptions
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

# Each public name and the private module that defines it.
_LAZY = {
    "APIConnectionError": "_exceptions",
    "APITimeoutError": "_exceptions",
    "Client": "_client",
    "File": "_files",
    "ModelError": "_exceptions",
    "Page": "_pagination",
    "Prediction": "_prediction",
    "PredictionCanceledError": "_exceptions",
    "Predictions": "_prediction",
    "Progress": "_prediction",
    "ReplicateError": "_exceptions",
    "ReplicateException": "_exceptions",
    "ServerSentEvent": "_sse",
    "StreamError": "_exceptions",
    "ValidationError": "_exceptions",
    "WaitTimeoutError": "_exceptions",
    "async_paginate": "_pagination",
    "default_client": "_client",
    "paginate": "_pagination",
}
_SUBMODULES = ("exceptions", "webhooks")  # public, as in the official client

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


def _default() -> Client:
    from ._client import default_client

    return default_client()


def run(ref: str, input: Optional[Dict[str, Any]] = None, **options: Any) -> Any:
    """``default_client().run(...)``: runs a model and returns its output. See ``Client.run``."""
    return _default().run(ref, input, **options)


async def async_run(ref: str, input: Optional[Dict[str, Any]] = None, **options: Any) -> Any:
    """``default_client().async_run(...)``. See ``Client.run``."""
    return await _default().async_run(ref, input, **options)


def stream(ref: str, input: Optional[Dict[str, Any]] = None, **options: Any) -> Iterator[ServerSentEvent]:
    """``default_client().stream(...)``: creates a prediction and yields its events."""
    return _default().stream(ref, input, **options)


def async_stream(ref: str, input: Optional[Dict[str, Any]] = None, **options: Any) -> AsyncIterator[ServerSentEvent]:
    """``default_client().async_stream(...)``."""
    return _default().async_stream(ref, input, **options)


def __getattr__(name: str) -> Any:
    # ``predictions`` is the default client's, created on first use so that
    # REPLICATE_API_TOKEN and REPLICATE_BASE_URL may be set after the import.
    if name == "predictions":
        return _default().predictions
    if name in _SUBMODULES:
        return __import__(f"{__name__}.{name}", fromlist=["_"])
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(__import__(f"{__name__}.{module}", fromlist=[name]), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})
