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

    from . import _deployments as _deployments
    from . import _files as _files
    from . import client as client
    from . import exceptions as exceptions
    from . import helpers as helpers
    from . import pagination as pagination
    from . import prediction as prediction
    from . import webhook as webhook
    from . import webhooks as webhooks
    from ._batch import Batch, BatchResult
    from ._client import Client, async_run, async_stream, batch, default_client, run, stream
    from ._exceptions import (
        APIConnectionError,
        APITimeoutError,
        BatchError,
        JournalMismatchError,
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

    #: The default client's namespaces (``default_client.predictions`` and so on), as the
    #: official package's module attributes.
    predictions: Predictions
    models: _deployments.Models
    deployments: _deployments.Deployments
    files: _files.Files

# Each public name and the private module that defines it.
_LAZY = {
    "APIConnectionError": "_exceptions",
    "APITimeoutError": "_exceptions",
    "AsyncEventStream": "_streaming",
    "Batch": "_batch",
    "BatchError": "_exceptions",
    "BatchResult": "_batch",
    "Client": "_client",
    "EventStream": "_streaming",
    "File": "_files",
    "JournalMismatchError": "_exceptions",
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
    "batch": "_client",
    "default_client": "_client",
    "paginate": "_pagination",
    "run": "_client",
    "stream": "_client",
}
# The official client's public modules. ``stream`` is one too, but the package attribute of
# that name is the stream() function, as in the official package: see below.
_SUBMODULES = ("client", "exceptions", "helpers", "model", "pagination", "prediction", "version", "webhook", "webhooks")
# The default client's namespaces, looked up on it each time (never stored here, so that
# reset_default_client() and a changed environment take effect).
_NAMESPACES = ("predictions", "models", "deployments", "files")

__all__ = [
    "USE_CLIENT_DEFAULT",
    "APIConnectionError",
    "APITimeoutError",
    "AsyncEventStream",
    "Batch",
    "BatchError",
    "BatchResult",
    "Client",
    "EventStream",
    "File",
    "JournalMismatchError",
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
    "batch",
    "default_client",
    "paginate",
    "predictions",
    "run",
    "stream",
]


if not TYPE_CHECKING:  # type checkers see the names above; a typo is then an error

    def __getattr__(name: str) -> Any:
        # ``default_client`` and its namespaces are created on first use, so that
        # REPLICATE_API_TOKEN and REPLICATE_BASE_URL may be set after the import.
        if name == "default_client" or name in _NAMESPACES:
            from ._client import get_default_client

            client = get_default_client()
            return client if name == "default_client" else getattr(client, name)
        if name in _SUBMODULES:
            return __import__(f"{__name__}.{name}", fromlist=["_"])
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(__import__(f"{__name__}.{module}", fromlist=[name]), name)
        globals()[name] = value  # the next lookup is a plain attribute
        return value

    # The module ``replicate_min.stream`` (``from replicate_min.stream import ServerSentEvent``)
    # is loaded now, while it costs nothing, and unbound from the package: importing it later
    # would otherwise bind the package attribute ``stream`` to the module, and
    # ``replicate_min.stream(...)`` would stop being the function, as it is in the official package.
    __import__(f"{__name__}.stream")
    globals().pop("stream", None)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES, *_NAMESPACES})
