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

TYPE_CHECKING = False  # keeps typing out of the import: only type checkers read the block
if TYPE_CHECKING:  # what the lazy names are, for type checkers and editors
    from typing import Any

    from . import exceptions as exceptions
    from . import webhooks as webhooks
    from ._client import Client, async_run, async_stream, default_client, run, stream
    from ._exceptions import (
        APIConnectionError,
        APITimeoutError,
        ModelError,
        PredictionCanceledError,
        ReplicateError,
        ReplicateException,
        ResponseTooLargeError,
        StreamError,
        ValidationError,
        WaitTimeoutError,
    )
    from ._files import File
    from ._pagination import Page, async_paginate, paginate
    from ._prediction import Prediction, Predictions, Progress, Status
    from ._requester import USE_CLIENT_DEFAULT
    from ._sse import ServerSentEvent
    from ._streaming import AsyncEventStream, EventStream

    #: The default client's predictions (``default_client().predictions``).
    predictions: Predictions

# Each public name and the private module that defines it.
_LAZY = {
    "APIConnectionError": "_exceptions",
    "APITimeoutError": "_exceptions",
    "AsyncEventStream": "_streaming",
    "Client": "_client",
    "EventStream": "_streaming",
    "File": "_files",
    "ModelError": "_exceptions",
    "Page": "_pagination",
    "Prediction": "_prediction",
    "PredictionCanceledError": "_exceptions",
    "Predictions": "_prediction",
    "Progress": "_prediction",
    "ReplicateError": "_exceptions",
    "ReplicateException": "_exceptions",
    "ResponseTooLargeError": "_exceptions",
    "ServerSentEvent": "_sse",
    "Status": "_prediction",
    "StreamError": "_exceptions",
    "USE_CLIENT_DEFAULT": "_requester",
    "ValidationError": "_exceptions",
    "WaitTimeoutError": "_exceptions",
    "async_paginate": "_pagination",
    "async_run": "_client",
    "async_stream": "_client",
    "default_client": "_client",
    "paginate": "_pagination",
    "run": "_client",
    "stream": "_client",
}
_SUBMODULES = ("exceptions", "pagination", "webhook", "webhooks")  # public, as in the official client

__all__ = [
    "USE_CLIENT_DEFAULT",
    "APIConnectionError",
    "APITimeoutError",
    "AsyncEventStream",
    "Client",
    "EventStream",
    "File",
    "ModelError",
    "Page",
    "Prediction",
    "PredictionCanceledError",
    "Predictions",
    "Progress",
    "ReplicateError",
    "ReplicateException",
    "ResponseTooLargeError",
    "ServerSentEvent",
    "Status",
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


if not TYPE_CHECKING:  # type checkers see the names above; a typo is then an error

    def __getattr__(name: str) -> Any:
        # ``predictions`` is the default client's, created on first use so that
        # REPLICATE_API_TOKEN and REPLICATE_BASE_URL may be set after the import.
        if name == "predictions":
            from ._client import default_client

            return default_client().predictions
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
