"""Every default setting, written once: ``Client``, ``Settings`` and ``RetryPolicy`` read them here."""

from __future__ import annotations

__all__ = [
    "BASE_URL",
    "CONNECT_TIMEOUT",
    "MAX_CONCURRENCY",
    "MAX_RESPONSE_SIZE",
    "MAX_RETRIES",
    "POLL_INTERVAL",
    "READ_TIMEOUT",
    "RETRY_BACKOFF",
    "STREAM_IDLE_TIMEOUT",
]

#: The API's origin (a trailing ``/v1`` is added by the client).
BASE_URL = "https://api.replicate.com"
#: Seconds to wait for the server's next bytes (one read, never a whole call).
READ_TIMEOUT = 30.0
#: Seconds to open a connection, or to wait for a free one.
CONNECT_TIMEOUT = 10.0
#: Seconds between polls in ``wait()`` (``REPLICATE_POLL_INTERVAL`` overrides it).
POLL_INTERVAL = 0.5
#: Retries of a failed request (0 disables them).
MAX_RETRIES = 3
#: The first retry's delay in seconds; it doubles each time, with jitter.
RETRY_BACKOFF = 0.5
#: Seconds an event stream may stay silent before it is reconnected.
STREAM_IDLE_TIMEOUT = 60.0
#: The largest response body read, in bytes.
MAX_RESPONSE_SIZE = 100 * 1024 * 1024
#: Requests in flight at once: async worker threads, and connections per host.
MAX_CONCURRENCY = 512
