"""Every default a client starts with, named once: ``Client``, ``Settings`` and ``RetryPolicy`` read them here.

Times are seconds. Nothing here imports anything.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_BATCH_CONCURRENCY",
    "DEFAULT_BATCH_LOOKBACK",
    "DEFAULT_BATCH_SETTLE",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_BACKOFF",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_EVENT_SIZE",
    "DEFAULT_MAX_RECONNECTS",
    "DEFAULT_MAX_RESPONSE_SIZE",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_RETRY_AFTER",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_RETRY_BACKOFF",
    "DEFAULT_STREAM_IDLE_TIMEOUT",
    "MAX_JSON_CONTAINERS",
    "MAX_JSON_DEPTH",
]

DEFAULT_BASE_URL = "https://api.replicate.com"
#: The longest wait for the server's next bytes (never an overall deadline).
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_CONNECT_TIMEOUT = 10.0
#: Between two polls of a prediction that has not finished.
DEFAULT_POLL_INTERVAL = 0.5
#: Retries after the first attempt.
DEFAULT_MAX_RETRIES = 3
#: The first retry's delay; it doubles each time, with jitter, up to ``DEFAULT_MAX_BACKOFF``.
DEFAULT_RETRY_BACKOFF = 0.5
DEFAULT_MAX_BACKOFF = 8.0
#: The longest a server's ``Retry-After`` is honoured for.
DEFAULT_MAX_RETRY_AFTER = 60.0
#: The longest a stream may send nothing (not even a keep-alive comment).
DEFAULT_STREAM_IDLE_TIMEOUT = 60.0
#: The largest response body read by default: room for sync-mode answers with inline ``data:`` outputs.
DEFAULT_MAX_RESPONSE_SIZE = 100 * 1024 * 1024
#: The bound, in characters, on one line of a server-sent event stream and on one event's data.
DEFAULT_MAX_EVENT_SIZE = 8 * 1024 * 1024
#: Reconnections a stream makes (with ``Last-Event-ID``) after its connection drops or falls silent.
DEFAULT_MAX_RECONNECTS = 5
#: Requests in flight at once per client (worker threads of the async twins, connections per origin).
DEFAULT_MAX_CONCURRENCY = 512
#: Predictions of a batch running at once (it adapts down on 429 and back up).
DEFAULT_BATCH_CONCURRENCY = 32
#: How far before a row's recorded send time a resumed batch looks for the prediction it may have
#: created: room for the machine's clock to differ from the API's.
DEFAULT_BATCH_LOOKBACK = 300.0
#: Seconds a create whose answer was lost (the process killed, the connection dropped) is left
#: before it is looked for: a request still on its way to the API would be created after the
#: search found nothing. A create outstanding longer is left twice as long as it was.
DEFAULT_BATCH_SETTLE = 5.0
#: The deepest JSON nesting taken from the server or sent as an input: past it, pickle and
#: copy.deepcopy of the value (a process pool's results, an error's prediction) would fail.
MAX_JSON_DEPTH = 100
#: The most objects and arrays one response body may hold: each costs 60 to 200 bytes once
#: decoded, so a body of "{}" would take 30 times its size (2.6 GB for 100 MiB).
MAX_JSON_CONTAINERS = 1_000_000
