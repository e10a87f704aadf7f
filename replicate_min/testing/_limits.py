"""The fake's rate limits: fixed windows on its clock, as the API's headers describe them.

The API allows 600 creates a minute and 3000 other requests a minute (``../shared/API.md``),
and sends ``ratelimit-remaining`` and ``ratelimit-reset`` (seconds until the window refills)
with every answer. A throttled request gets 429, the API's body (``Request was throttled.
Expected available in N second(s).``) and, if configured, a ``Retry-After`` header, which the
real API does not document.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

__all__ = ["Limiter", "RateLimit"]


@dataclass(frozen=True)
class RateLimit:
    """Requests allowed per ``window`` seconds of the fake's clock, creates and the rest apart.

    ``FakeReplicate(rate_limit=RateLimit())`` is the real API's (600 creates and 3000 other
    requests a minute); scale it down for a test, e.g. ``RateLimit(creates=5, reads=50, window=1)``.
    """

    creates: int = 600
    reads: int = 3000
    window: float = 60.0
    #: Send ``Retry-After`` on a 429 (the real API documents none: the body and headers say when).
    retry_after_header: bool = True

    def __post_init__(self) -> None:
        for name in ("creates", "reads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"RateLimit.{name} must be a whole number of requests of 1 or more, got {value!r}")
        if not isinstance(self.window, (int, float)) or not 0 < self.window < 1e6:
            raise ValueError(f"RateLimit.window must be seconds between 0 and 1e6, got {self.window!r}")


def _seconds_text(seconds: float, window: float) -> str:
    """``ratelimit-reset``: whole seconds (rounded up) as the API sends them, milliseconds for a sub-second window."""
    if window >= 1:
        return str(max(1, math.ceil(seconds)))
    return f"{max(seconds, 0.001):.3f}"


class Limiter:
    """Counts requests per bucket and window (call with the fake's lock held)."""

    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._windows: Dict[str, Tuple[int, int]] = {}  # bucket -> (window index, requests in it)

    def take(self, bucket: str, now: float) -> Tuple[bool, Dict[str, str], Optional[str]]:
        """Counts one request at clock time ``now``: (allowed, rate headers, the 429 detail if throttled)."""
        window = self.limit.window
        allowed_per_window = self.limit.creates if bucket == "create" else self.limit.reads
        index = math.floor(now / window)
        seen_index, used = self._windows.get(bucket, (index, 0))
        if seen_index != index:
            used = 0
        reset = (index + 1) * window - now
        reset_text = _seconds_text(reset, window)
        if used >= allowed_per_window:
            self._windows[bucket] = (index, used)
            headers = {"ratelimit-remaining": "0", "ratelimit-reset": reset_text}
            if self.limit.retry_after_header:
                headers["Retry-After"] = reset_text
            wait = max(1, math.ceil(reset))
            detail = f"Request was throttled. Expected available in {wait} second{'s' if wait != 1 else ''}."
            return False, headers, detail
        used += 1
        self._windows[bucket] = (index, used)
        headers = {"ratelimit-remaining": str(allowed_per_window - used), "ratelimit-reset": reset_text}
        return True, headers, None
