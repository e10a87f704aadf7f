"""``Prediction``, its ``Progress``, and the ``Predictions`` namespace.

The sync methods own the logic. Each ``async_`` twin runs its sync twin in a thread
(``asyncio.to_thread``), except ``async_wait``, which sleeps on the event loop so that
no thread is held between polls. Request bodies are built by pure functions below.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from . import _log
from ._exceptions import ModelError, ReplicateError, ReplicateException, ValidationError, WaitTimeoutError, excerpt
from ._urls import path_segment

TYPE_CHECKING = False  # typing costs milliseconds to import: only type checkers read it
if TYPE_CHECKING:
    from typing import Any, AsyncIterator, ClassVar, Dict, Iterable, Iterator, List, Optional, Tuple, Union

    from ._client import Client
    from ._pagination import Page
    from ._sse import ServerSentEvent
    from ._streaming import EventStream

__all__ = [
    "KNOWN_STATUSES",
    "TERMINAL_STATUSES",
    "Prediction",
    "Predictions",
    "Progress",
]

#: A prediction in one of these will not change again.
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "canceled", "aborted"})
KNOWN_STATUSES = TERMINAL_STATUSES | {"starting", "processing"}
#: A model or deployment reference, ``owner/name``.
OWNER_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*"
WEBHOOK_EVENTS = frozenset({"start", "output", "logs", "completed"})
#: Seconds added to a ``Prefer: wait=N`` hold to size the read timeout.
WAIT_MARGIN = 5.0

# The official client's tqdm pattern (re caches the compiled form).
_PROGRESS = r"^\s*(?P<percentage>\d+)%\s*\|.+?\|\s*(?P<current>\d+)\/(?P<total>\d+)"
_warned_statuses: set[str] = set()


@dataclass(frozen=True)
class Progress:
    """How far a prediction is, read from the last tqdm progress bar in its logs."""

    percentage: float
    current: int
    total: int

    @classmethod
    def parse(cls, logs: Optional[str]) -> Optional[Progress]:
        """The last tqdm line of ``logs`` (e.g. `` 76%|███▋  | 76/100``), or ``None``."""
        if not logs:
            return None
        for line in reversed(logs.split("\n")):
            match = re.match(_PROGRESS, line.strip())
            if match:
                return cls(int(match["percentage"]) / 100.0, int(match["current"]), int(match["total"]))
        return None


_Progress = Progress  # the name Progress is also Prediction's class attribute

# Each known field and the JSON type it holds (None is allowed for all but id and status).
_FIELD_TYPES: Dict[str, type] = {
    "id": str,
    "status": str,
    "model": str,
    "version": str,
    "input": dict,
    "logs": str,
    "error": str,
    "metrics": dict,
    "created_at": str,
    "started_at": str,
    "completed_at": str,
    "urls": dict,
    "data_removed": bool,
    "deadline": str,
    "deployment": str,
    "source": str,
    "webhook": str,
    "webhook_events_filter": list,
    "webhook_completed": str,
}
_JSON_NAMES = {str: "a string", dict: "an object", bool: "a boolean", list: "a list"}
_REQUIRED = ("id", "status")
_FIELDS = frozenset(_FIELD_TYPES) | {"output"}


@dataclass
class Prediction:
    """A prediction, as the API describes it.

    Every field the API sends is kept: the known ones as attributes, unknown ones in
    ``extra``. Types are checked at construction; a bad value raises
    ``ValidationError`` naming the field. ``status`` may be any string: the known ones
    are in ``KNOWN_STATUSES``, and an unknown one is logged and treated as not terminal.
    Timestamps are the API's RFC 3339 strings, unparsed.
    """

    id: str
    status: str
    model: Optional[str] = None
    version: Optional[str] = None
    input: Optional[Dict[str, Any]] = None
    output: Any = None
    logs: Optional[str] = None
    error: Optional[str] = None
    metrics: Optional[Dict[str, Any]] = None
    created_at: Optional[str] = None
    started_at: Optional[str] = None
    completed_at: Optional[str] = None
    urls: Optional[Dict[str, str]] = None
    data_removed: Optional[bool] = None
    deadline: Optional[str] = None
    deployment: Optional[str] = None
    source: Optional[str] = None
    webhook: Optional[str] = None
    webhook_events_filter: Optional[List[str]] = None
    webhook_completed: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)
    _client: Optional[Client] = field(default=None, repr=False, compare=False)

    if TYPE_CHECKING:  # set below the class: an annotation here would make it a field
        Progress: ClassVar[type[_Progress]]

    def __post_init__(self) -> None:
        fields = self.__dict__
        for name, kind in _FIELD_TYPES.items():
            value = fields[name]
            if type(value) is kind or (value is None and name not in _REQUIRED):
                continue  # the common case, decided without isinstance
            if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                raise ValidationError(
                    f"prediction field {name!r} must be {_JSON_NAMES[kind]}, got {excerpt(value)}",
                    field=name,
                    value=value,
                )
        if self.urls is not None:
            for url in self.urls.values():
                if not isinstance(url, str):
                    raise ValidationError(
                        f"prediction field 'urls' must map names to URL strings, got {excerpt(self.urls)}",
                        field="urls",
                        value=self.urls,
                    )
        events = self.webhook_events_filter
        if events is not None and not all(isinstance(event, str) for event in events):
            raise ValidationError(
                f"prediction field 'webhook_events_filter' must be a list of strings, got {excerpt(events)}",
                field="webhook_events_filter",
                value=events,
            )
        if self.status not in KNOWN_STATUSES and self.status not in _warned_statuses:
            _warned_statuses.add(self.status)
            _log.warning("prediction %s has unknown status %r; treating it as not finished", self.id, self.status)

    @classmethod
    def from_json(cls, data: Any, client: Optional[Client] = None) -> Prediction:
        """Builds a prediction from a decoded API body, validating every field."""
        if not isinstance(data, dict):
            raise ValidationError(f"a prediction must be a JSON object, got {excerpt(data)}", value=data)
        for name in _REQUIRED:
            if name not in data:
                raise ValidationError(f"prediction field {name!r} is missing", field=name)
        known: Dict[str, Any] = {}
        extra: Dict[str, Any] = {}
        for key, value in data.items():
            (known if key in _FIELDS else extra)[key] = value
        return cls(**known, extra=extra, _client=client)

    # -- reading -----------------------------------------------------------------

    @property
    def progress(self) -> Optional[_Progress]:
        """Progress parsed from the logs' last tqdm bar, or ``None``."""
        return Progress.parse(self.logs)

    @property
    def done(self) -> bool:
        """True once the status is terminal (succeeded, failed, canceled or aborted)."""
        return self.status in TERMINAL_STATUSES

    def to_dict(self) -> Dict[str, Any]:
        """The prediction as JSON-ready data: the known fields, then the ``extra`` ones."""
        data = {name: getattr(self, name) for name in _FIELD_TYPES}
        data["output"] = self.output
        data.update(self.extra)
        return data

    dict = to_dict  # the official client's (pydantic) spelling

    # -- acting ------------------------------------------------------------------

    def _bound(self) -> Client:
        if self._client is None:
            raise ReplicateException(
                f"prediction {self.id} is not bound to a client; get it through client.predictions"
            )
        return self._client

    def _update(self, other: Prediction) -> None:
        for name in _FIELDS:
            setattr(self, name, getattr(other, name))
        self.extra = other.extra

    def reload(self) -> None:
        """Fetches the prediction again and updates this object in place."""
        self._update(self._bound().predictions.get(self.id))

    def cancel(self) -> None:
        """Cancels the prediction and updates this object with the API's answer."""
        self._update(self._bound().predictions.cancel(self.id))

    def wait(self, timeout: Optional[float] = None) -> None:
        """Polls at the client's ``poll_interval`` until the status is terminal.

        Args:
            timeout: overall seconds to wait; ``None`` waits as long as it takes.

        Raises:
            WaitTimeoutError: ``timeout`` passed first (the prediction keeps running).
        """
        deadline = _deadline(timeout)
        interval = self._bound().poll_interval
        while self.status not in TERMINAL_STATUSES:
            time.sleep(_next_sleep(interval, deadline, self))
            self.reload()

    async def async_reload(self) -> None:
        """Async ``reload``."""
        import asyncio

        await asyncio.to_thread(self.reload)

    async def async_cancel(self) -> None:
        """Async ``cancel``."""
        import asyncio

        await asyncio.to_thread(self.cancel)

    async def async_wait(self, timeout: Optional[float] = None) -> None:
        """Async ``wait``: sleeps on the event loop between reloads, holding no thread."""
        import asyncio

        deadline = _deadline(timeout)
        interval = self._bound().poll_interval
        while self.status not in TERMINAL_STATUSES:
            await asyncio.sleep(_next_sleep(interval, deadline, self))
            await self.async_reload()

    # -- output as it is made -------------------------------------------------------

    def stream(
        self,
        *,
        idle_timeout: Optional[float] = None,
        max_reconnects: int = 5,
        max_event_size: Optional[int] = None,
    ) -> EventStream:
        """Streams the prediction's server-sent events as they arrive; ends after ``done``.

        Output events are ``str(event)``-able to their text; ``logs`` events carry log
        lines. A dropped or silent connection is resumed with ``Last-Event-ID``, and no
        event id is yielded twice. Close the returned iterator (or leave its ``with``
        block, or just stop iterating) to drop the connection.

        Args:
            idle_timeout: seconds of silence before reconnecting; ``None`` takes the
                client's ``stream_idle_timeout`` (where ``None`` means no limit).
            max_reconnects: how often a broken stream is resumed before giving up.
            max_event_size: the longest event (in characters) accepted; ``None`` is the
                parser's default of 8 MiB.

        Raises:
            ReplicateError: the prediction has no stream URL (the model does not support
                streaming), or the stream URL answered with an error status.
            StreamError: the model reported an ``error`` event (``.detail``), or the
                stream broke beyond repair.
        """
        from ._streaming import EventStream

        client = self._bound()
        url = (self.urls or {}).get("stream")
        if not url:
            raise ReplicateError(
                title="Streaming not supported",
                detail=f"prediction {self.id} has no stream URL: the model does not support streaming",
            )
        if isinstance(max_reconnects, bool) or not isinstance(max_reconnects, int) or max_reconnects < 0:
            raise ValueError(f"max_reconnects must be a whole number, 0 or more, got {excerpt(max_reconnects)}")
        if idle_timeout is None:
            idle_timeout = client.stream_idle_timeout
        else:
            _check_seconds("idle_timeout", idle_timeout)

        def finished() -> bool:
            self.reload()
            return self.done

        return EventStream(
            client,
            url,
            idle_timeout=idle_timeout,
            max_reconnects=max_reconnects,
            is_finished=finished,
            max_event_size=max_event_size,
        )

    def async_stream(
        self,
        *,
        idle_timeout: Optional[float] = None,
        max_reconnects: int = 5,
        max_event_size: Optional[int] = None,
    ) -> AsyncIterator[ServerSentEvent]:
        """Async ``stream``: ``async for event in prediction.async_stream()``.

        Each stream reads on a thread of its own, so waiting streams never starve the
        event loop's shared executor. Leaving the loop or cancelling the task closes it.
        """
        from ._streaming import iterate_in_thread

        return iterate_in_thread(
            lambda: self.stream(idle_timeout=idle_timeout, max_reconnects=max_reconnects, max_event_size=max_event_size)
        )

    def output_iterator(self) -> Iterator[Any]:
        """Yields each new item of a list output as it appears, polling at the client's interval.

        A non-list output is yielded once, at the end. Ends on any terminal status.

        Raises:
            ModelError: the prediction failed (after yielding what it had produced).
        """
        interval = self._bound().poll_interval
        count = 0
        while True:
            new, count = _new_items(self.output, count, self.done)
            yield from new
            if self.done:
                break
            time.sleep(interval)
            self.reload()
        if self.status == "failed":
            raise ModelError(self)

    async def async_output_iterator(self) -> AsyncIterator[Any]:
        """Async ``output_iterator``: sleeps on the event loop between polls, holding no thread."""
        import asyncio

        interval = self._bound().poll_interval
        count = 0
        while True:
            new, count = _new_items(self.output, count, self.done)
            for item in new:
                yield item
            if self.done:
                break
            await asyncio.sleep(interval)
            await self.async_reload()
        if self.status == "failed":
            raise ModelError(self)


def _new_items(output: Any, count: int, done: bool) -> Tuple[List[Any], int]:
    """The items of ``output`` past the first ``count``, and the new count.

    A list grows as the model works; any other output is complete only once ``done``.
    """
    if isinstance(output, list):
        return output[count:], max(count, len(output))
    if done and output is not None and count == 0:
        return [output], 1
    return [], count


Prediction.Progress = Progress  # the official client's spelling: Prediction.Progress.parse(logs)


def _deadline(timeout: Optional[float]) -> Optional[float]:
    if timeout is None:
        return None
    _check_seconds("timeout", timeout)
    return time.monotonic() + timeout


def _next_sleep(interval: float, deadline: Optional[float], prediction: Prediction) -> float:
    """How long to sleep before the next poll; raises once the deadline has passed."""
    if deadline is None:
        return interval
    left = deadline - time.monotonic()
    if left <= 0:
        raise WaitTimeoutError(
            f"prediction {prediction.id} is still {prediction.status!r} after the timeout; it keeps running",
            prediction,
        )
    return min(interval, left)


def _check_seconds(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {excerpt(value)}")
    if not value >= 0:
        raise ValueError(f"{name} must be zero or more seconds, got {value!r}")


# -- request building (pure) ---------------------------------------------------------


def _owner_name(kind: str, ref: Any) -> str:
    """Validates ``owner/name`` and returns it."""
    if not isinstance(ref, str):
        raise TypeError(f"{kind} must be a string like 'owner/name', got {excerpt(ref)}")
    if not re.fullmatch(OWNER_NAME, ref):
        hint = " (for a version, pass version='owner/name:version' instead)" if ":" in ref else ""
        raise ValueError(f"{kind} must look like 'owner/name', got {ref!r}{hint}")
    return ref


def prefer_header(wait: Union[bool, int, None]) -> Optional[str]:
    """The ``Prefer`` header for ``wait``: True is ``wait``, an int N (1 to 60) is ``wait=N``."""
    if wait is None or wait is False:
        return None
    if wait is True:
        return "wait"
    if not isinstance(wait, int):
        raise TypeError(f"wait must be True, False or a whole number of seconds, got {excerpt(wait)}")
    if not 1 <= wait <= 60:
        raise ValueError(f"wait must be between 1 and 60 seconds, got {wait}")
    return f"wait={wait}"


def cancel_after_header(value: Union[str, int, float, None]) -> Optional[str]:
    """Validates a ``Cancel-After`` duration ("90s", "1h30m", or seconds) of at least 5 s."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(f"cancel_after must be a duration like '1h30m' or seconds, got {excerpt(value)}")
    if isinstance(value, str):
        match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?|(\d+)", value)
        if not value or not match:
            raise ValueError(f"cancel_after must be a duration like '90s', '5m' or '1h30m45s', got {value!r}")
        hours, minutes, secs, bare = (int(group or 0) for group in match.groups())
        seconds: float = hours * 3600 + minutes * 60 + secs + bare
        text = value
    else:
        if value != value or value in (float("inf"), float("-inf")) or value != int(value):
            raise ValueError(f"cancel_after must be a whole number of seconds, got {value!r}")
        seconds, text = value, f"{int(value)}s"
    if seconds < 5:
        raise ValueError(f"cancel_after must be at least 5 seconds, got {value!r}")
    return text


def build_create(
    version: Optional[str],
    input: Optional[Dict[str, Any]],
    *,
    model: Optional[str],
    deployment: Optional[str],
    webhook: Optional[str],
    webhook_completed: Optional[str],
    webhook_events_filter: Optional[Iterable[str]],
    stream: Optional[bool],
    wait: Union[bool, int, None],
    cancel_after: Union[str, int, float, None],
) -> Tuple[str, bytes, Dict[str, str], Optional[float]]:
    """Validates create arguments; returns (path, JSON body, extra headers, wait hold in seconds)."""
    targets = [
        name
        for name, value in (("version", version), ("model", model), ("deployment", deployment))
        if value is not None
    ]
    if len(targets) != 1:
        raise ValueError(f"pass exactly one of version, model and deployment (got {', '.join(targets) or 'none'})")
    body: Dict[str, Any] = {}
    if version is not None:
        if not isinstance(version, str) or not version:
            raise TypeError(f"version must be a non-empty string, got {excerpt(version)}")
        path = "/v1/predictions"
        body["version"] = version
    elif model is not None:
        path = f"/v1/models/{_owner_name('model', model)}/predictions"
    else:
        path = f"/v1/deployments/{_owner_name('deployment', deployment)}/predictions"
    if input is None:
        input = {}
    if not isinstance(input, dict):
        raise TypeError(f"input must be a dict of the model's inputs, got {excerpt(input)}")
    body["input"] = input
    for name, url in (("webhook", webhook), ("webhook_completed", webhook_completed)):
        if url is not None:
            if not isinstance(url, str) or not url.startswith(("https://", "http://")):
                raise ValueError(f"{name} must be an http(s) URL, got {excerpt(url)}")
            body[name] = url
    if webhook_events_filter is not None:
        if isinstance(webhook_events_filter, str):
            raise TypeError("webhook_events_filter must be a list of event names, not a string")
        events = list(webhook_events_filter)
        unknown = [event for event in events if event not in WEBHOOK_EVENTS]
        if unknown:
            raise ValueError(f"webhook_events_filter has unknown events {unknown!r}; known: {sorted(WEBHOOK_EVENTS)}")
        body["webhook_events_filter"] = events
    if stream is not None:
        if not isinstance(stream, bool):
            raise TypeError(f"stream must be True or False, got {excerpt(stream)}")
        body["stream"] = stream
    headers: Dict[str, str] = {}
    prefer = prefer_header(wait)
    hold: Optional[float] = None
    if prefer is not None:
        headers["Prefer"] = prefer
        hold = 60.0 if wait is True else float(wait)  # type: ignore[arg-type]
    cancel_after_text = cancel_after_header(cancel_after)
    if cancel_after_text is not None:
        headers["Cancel-After"] = cancel_after_text
    import json

    try:
        data = json.dumps(body, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise TypeError(f"input must be JSON-serializable: {exc}") from exc
    return path, data, headers, hold


def _prediction_path(id: Any, suffix: str = "") -> str:
    if not isinstance(id, str) or not id:
        raise TypeError(f"id must be a non-empty prediction id string, got {excerpt(id)}")
    return f"/v1/predictions/{path_segment(id)}{suffix}"


class Predictions:
    """``client.predictions``: create, get, list and cancel predictions."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<Predictions of {self._client!r}>"

    def _parse(self, data: Any) -> Prediction:
        return Prediction.from_json(data, self._client)

    def create(
        self,
        version: Optional[str] = None,
        input: Optional[Dict[str, Any]] = None,
        *,
        model: Optional[str] = None,
        deployment: Optional[str] = None,
        webhook: Optional[str] = None,
        webhook_completed: Optional[str] = None,
        webhook_events_filter: Optional[Iterable[str]] = None,
        stream: Optional[bool] = None,
        wait: Union[bool, int, None] = None,
        cancel_after: Union[str, int, float, None] = None,
        file_encoding_strategy: Optional[str] = None,
    ) -> Prediction:
        """Creates a prediction.

        Args:
            version: a 64-hex version id, ``owner/name:version``, or ``owner/name``
                (posted to ``/v1/predictions``). Pass exactly one of ``version``,
                ``model`` (``owner/name``, the models endpoint) and ``deployment``.
            input: the model's inputs, JSON-serializable.
            webhook, webhook_completed, webhook_events_filter, stream: sent as given;
                ``None`` leaves a field out.
            wait: ``True`` or seconds (1 to 60): hold the request open until the
                prediction finishes (``Prefer: wait``); the read timeout grows to match.
            cancel_after: a deadline such as ``"1h30m"`` or seconds (at least 5),
                after which the API cancels the prediction.
            file_encoding_strategy: how ``Path``/binary-file/``bytes`` inputs are sent:
                ``"base64"`` (inline ``data:`` URLs), ``"url"`` (uploaded to
                ``/v1/files``), or ``None``: inline up to 256 KB, uploaded above.

        Returns:
            The new prediction (possibly not finished even with ``wait``).

        Raises:
            ValueError, TypeError: a bad argument; nothing was sent.
            ReplicateError: the API refused the request.
            APIConnectionError: no answer. A create is never retried once it may
                have reached the server, so it never creates a duplicate.
        """
        from ._files import encode_files

        input = encode_files({} if input is None else input, self._client, file_encoding_strategy)
        path, body, headers, hold = build_create(
            version,
            input,
            model=model,
            deployment=deployment,
            webhook=webhook,
            webhook_completed=webhook_completed,
            webhook_events_filter=webhook_events_filter,
            stream=stream,
            wait=wait,
            cancel_after=cancel_after,
        )
        read_timeout = None
        if hold is not None and self._client.timeout is not None:
            read_timeout = max(self._client.timeout, hold + WAIT_MARGIN)
        return self._parse(
            self._client._request(
                "POST", path, body=body, headers=headers, read_timeout=read_timeout, resend_safe=False
            )
        )

    def get(self, id: str) -> Prediction:
        """Fetches a prediction by id."""
        return self._parse(self._client._request("GET", _prediction_path(id)))

    def list(self, cursor: Union[str, ellipsis, None] = ...) -> Page[Prediction]:  # noqa: F821
        """One page of predictions, newest first.

        Args:
            cursor: the previous page's ``next`` URL; omit it for the first page.

        Raises:
            ValueError: ``cursor`` is ``None`` (the last page has no ``next``).
        """
        if cursor is None:
            raise ValueError("cursor cannot be None: the previous page was the last one")
        if cursor is ...:
            target = "/v1/predictions"
        elif isinstance(cursor, str) and cursor.startswith(("https://", "http://")):
            target = cursor
        else:
            raise TypeError(f"cursor must be a page's next URL, got {excerpt(cursor)}")
        from ._pagination import parse_page

        return parse_page(self._client._request("GET", target), self._parse)

    def cancel(self, id: str) -> Prediction:
        """Cancels a prediction and returns it as the API answered."""
        return self._parse(self._client._request("POST", _prediction_path(id, "/cancel")))

    async def async_create(
        self, version: Optional[str] = None, input: Optional[Dict[str, Any]] = None, **params: Any
    ) -> Prediction:
        """Async ``create`` (same arguments)."""
        import asyncio

        return await asyncio.to_thread(self.create, version, input, **params)

    async def async_get(self, id: str) -> Prediction:
        """Async ``get``."""
        import asyncio

        return await asyncio.to_thread(self.get, id)

    async def async_list(self, cursor: Union[str, ellipsis, None] = ...) -> Page[Prediction]:  # noqa: F821
        """Async ``list``."""
        import asyncio

        return await asyncio.to_thread(self.list, cursor)

    async def async_cancel(self, id: str) -> Prediction:
        """Async ``cancel``."""
        import asyncio

        return await asyncio.to_thread(self.cancel, id)
