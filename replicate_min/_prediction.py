"""``Prediction``, its ``Status`` and ``Progress``, and the ``Predictions`` namespace.

The sync methods own the logic; each ``async_`` twin runs its sync twin on one of the
client's worker threads (``Requester.run_async``), except the waits between polls,
which sleep on the event loop and hold no thread. Every loop that waits for a
prediction goes through one generator, ``polling``. Request bodies are built by pure
functions below. A prediction refers to the ``Requester`` it came from, which is not a
dataclass field: copying, comparing and pickling a prediction see only its data.
"""

from __future__ import annotations

import enum
import functools
import re
import time
from dataclasses import dataclass, field, fields
from typing import (
    TYPE_CHECKING,
    Any,
    AsyncIterator,
    Callable,
    ClassVar,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Tuple,
    Union,
)

from . import _log
from ._create import CreateRequest, Target, plain
from ._defaults import DEFAULT_MAX_EVENT_SIZE, DEFAULT_MAX_RECONNECTS, MAX_JSON_DEPTH
from ._exceptions import (
    JSON_NAMES,
    APITimeoutError,
    ModelError,
    PredictionCanceledError,
    ReplicateError,
    StreamError,
    ValidationError,
    WaitTimeoutError,
    excerpt,
    nests_deeper,
)
from ._pagination import Page, parse_page
from ._requester import (
    USE_CLIENT_DEFAULT,
    Requester,
    UseClientDefault,
    async_twin,
    check_caller_url,
    check_seconds,
    check_url,
    default_requester,
)
from ._sse import ServerSentEvent
from ._streaming import AsyncEventStream, EventStream
from ._urls import path_segment, shown_url

if TYPE_CHECKING:
    from builtins import ellipsis  # the type of ``...``, the official "no cursor" default
else:
    ellipsis = type(...)

__all__ = [
    "TERMINAL_STATUSES",
    "Prediction",
    "Predictions",
    "Progress",
    "Status",
    "check_outcome",
    "create_prediction",
    "deadline_for",
    "polling",
]


class Status(str, enum.Enum):
    """A prediction's status. A ``str``, so ``status == "succeeded"`` holds as before."""

    STARTING = "starting"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    ABORTED = "aborted"

    def __str__(self) -> str:  # "succeeded", not "Status.SUCCEEDED", in print and f-strings
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    def __repr__(self) -> str:
        return repr(self.value)

    @property
    def terminal(self) -> bool:
        """True for a status that will not change again."""
        return self in TERMINAL_STATUSES


#: A prediction in one of these will not change again.
TERMINAL_STATUSES = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELED, Status.ABORTED})
_STATUSES = {status.value: status for status in Status}

# The official client's tqdm pattern (re caches the compiled form).
# At most 15 digits each: a server's huge numbers are no progress, never an OverflowError.
_PROGRESS = r"^\s*(?P<percentage>\d{1,15})%\s*\|.+?\|\s*(?P<current>\d{1,15})\/(?P<total>\d{1,15})(?!\d)"


def _is_id(text: str) -> bool:
    """A server-sent id that can name one URL path segment as itself: printable ASCII,
    no ``/``, ``\\``, ``?``, ``#``, ``%`` or space, and not ``.`` or ``..``."""
    if len(text) > 256:
        return False
    if text.isalnum() and text.isascii():  # the usual case
        return True
    return (
        text != ""
        and text.isascii()
        and text.isprintable()
        and not any(c in text for c in "/\\?#% ")
        and text not in (".", "..")
    )


def is_terminal(status: str) -> bool:
    """True for succeeded, failed, canceled and aborted; an unknown status is not terminal."""
    return status in TERMINAL_STATUSES


def check_outcome(prediction: Prediction) -> None:
    """The one rule for a finished prediction whose output was asked for.

    ``failed`` raises ``ModelError``; ``canceled`` and ``aborted`` raise
    ``PredictionCanceledError``; ``succeeded`` passes. ``run()`` and ``output_iterator()``
    use it; ``wait()`` and ``stream()`` (which ends after a canceled ``done``) do not.
    """
    if prediction.status == Status.FAILED:
        raise ModelError(prediction)
    if prediction.status in (Status.CANCELED, Status.ABORTED):
        raise PredictionCanceledError(prediction)


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


@dataclass
class _Fields:
    """A prediction's fields and their checks (``Prediction`` is this and what it does)."""

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

    def __post_init__(self) -> None:
        values = self.__dict__
        for name, kind in _FIELD_TYPES.items():
            value = values[name]
            if type(value) is kind or (value is None and name not in _REQUIRED):
                continue  # the common case, decided without isinstance
            if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                raise ValidationError(
                    f"prediction field {name!r} must be {JSON_NAMES[kind]}, got {excerpt(value)}",
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
        if not _is_id(self.id):
            raise ValidationError(
                f"prediction field 'id' must be an ASCII id with no '/', got {excerpt(self.id)}",
                field="id",
                value=self.id,
            )
        status = _STATUSES.get(self.status)
        if status is not None:
            values["status"] = status


class Prediction(_Fields):
    """A prediction, as the API describes it.

    Every field the API sends is kept: the known ones as attributes, unknown ones in
    ``extra``. Types are checked at construction; a bad value raises
    ``ValidationError`` naming the field. ``status`` is a ``Status`` for the known
    statuses and stays a plain string otherwise (logged, and treated as not finished).
    Timestamps are the API's RFC 3339 strings, unparsed.

    A prediction fetched through a client acts through that client (``reload``,
    ``wait``, ``cancel``, ``stream``); one built by hand or unpickled acts through the
    default client until ``bind(client)``.
    """

    Progress: ClassVar[type[_Progress]] = _Progress  # the official spelling: Prediction.Progress.parse(logs)
    _requester: ClassVar[Optional[Requester]] = None  # set per instance; never a field

    if not TYPE_CHECKING:  # (type checkers see the dataclass's own signature)

        @functools.wraps(_Fields.__init__)
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            """The dataclass ``__init__``, except that unknown keywords go to ``extra``:
            ``Prediction(**webhook_payload)`` works as the official (pydantic) model does, and
            what it does not know is kept rather than dropped."""
            if not kwargs.keys() <= _INIT_NAMES:
                unknown = {key: kwargs.pop(key) for key in list(kwargs) if key not in _INIT_NAMES}
                kwargs["extra"] = {**(kwargs.get("extra") or {}), **unknown}
            super().__init__(*args, **kwargs)

    @classmethod
    def from_json(cls, data: Any, requester: Optional[Requester] = None) -> Prediction:
        """Builds a prediction from a decoded API body, validating every field."""
        if not isinstance(data, dict):
            raise ValidationError(f"a prediction must be a JSON object, got {excerpt(data)}", value=data)
        for name in _REQUIRED:
            if name not in data:
                raise ValidationError(f"prediction field {name!r} is missing", field=name)
        for name in ("input", "output"):  # (a webhook's body, decoded by the caller, too)
            if nests_deeper(data.get(name), MAX_JSON_DEPTH):
                raise ValidationError(
                    f"prediction field {name!r} nests deeper than {MAX_JSON_DEPTH} levels", field=name
                )
        known: Dict[str, Any] = {}
        extra: Dict[str, Any] = {}
        for key, value in data.items():
            (known if key in _FIELD_SET else extra)[key] = value
        prediction = cls.__new__(cls)
        _Fields.__init__(prediction, **known, extra=extra)  # the keys are sorted already
        prediction.__dict__["_requester"] = requester
        if not isinstance(prediction.status, Status) and (
            requester is None or requester.first_sight(prediction.status)
        ):
            _log.warning(
                "prediction %r has unknown status %r; treating it as not finished", prediction.id, prediction.status
            )
        return prediction

    # -- binding, copying, pickling ------------------------------------------------

    def bind(self, client: Any) -> Prediction:
        """Makes ``reload``, ``wait`` etc. go through ``client`` (a ``Client``); returns self."""
        requester = getattr(client, "requester", client)
        if not isinstance(requester, Requester):
            raise TypeError(f"bind() takes a Client, got {excerpt(client)}")
        self.__dict__["_requester"] = requester
        return self

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_requester", None)  # a client holds locks and sockets: not data
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __deepcopy__(self, memo: Dict[int, Any]) -> Prediction:
        twin = Prediction.__new__(Prediction)
        memo[id(self)] = twin
        import copy

        twin.__dict__.update(copy.deepcopy(self.__getstate__(), memo))
        if "_requester" in self.__dict__:
            twin.__dict__["_requester"] = self._requester  # the copy acts through the same client
        return twin

    # -- reading -----------------------------------------------------------------

    @property
    def progress(self) -> Optional[_Progress]:
        """Progress parsed from the logs' last tqdm bar, or ``None``."""
        return Progress.parse(self.logs)

    @property
    def done(self) -> bool:
        """True once the status is terminal (succeeded, failed, canceled or aborted)."""
        return is_terminal(self.status)

    def to_dict(self) -> Dict[str, Any]:
        """The prediction as JSON-ready data: the known fields, then the ``extra`` ones."""
        data = {name: getattr(self, name) for name in _FIELDS}
        data["status"] = str(data["status"])
        data.update(self.extra)
        return data

    def __iter__(self) -> Iterator[Tuple[str, Any]]:
        """``(name, value)`` pairs, as a pydantic model iterates: ``dict(prediction)`` is ``to_dict()``.

        The keys kept in ``extra`` come flattened after the known fields, so
        ``Prediction(**dict(prediction))`` gives back an equal prediction.
        """
        return iter(self.to_dict().items())

    def dict(
        self,
        *,
        include: Optional[Iterable[str]] = None,
        exclude: Optional[Iterable[str]] = None,
        exclude_none: bool = False,
        by_alias: bool = False,
    ) -> Dict[str, Any]:
        """``to_dict()`` as the official client's (pydantic v1) ``.dict()`` shapes it.

        Args:
            include: only these keys (a set, or the keys of a mapping, as pydantic takes).
            exclude: all but these keys.
            exclude_none: leave out keys whose value is ``None``.
            by_alias: accepted for compatibility; no field has an alias.
        """
        data = self.to_dict()
        if include is not None:
            keep = set(include)
            data = {key: value for key, value in data.items() if key in keep}
        if exclude is not None:
            drop = set(exclude)
            data = {key: value for key, value in data.items() if key not in drop}
        if exclude_none:
            data = {key: value for key, value in data.items() if value is not None}
        return data

    def json(
        self,
        *,
        include: Optional[Iterable[str]] = None,
        exclude: Optional[Iterable[str]] = None,
        exclude_none: bool = False,
        by_alias: bool = False,
        **dumps_kwargs: Any,
    ) -> str:
        """The prediction as a JSON string (pydantic v1's ``.json()``): ``.dict(...)`` through ``json.dumps``."""
        import json

        data = self.dict(include=include, exclude=exclude, exclude_none=exclude_none, by_alias=by_alias)
        return json.dumps(data, **dumps_kwargs)

    # -- acting ------------------------------------------------------------------

    @property
    def requester(self) -> Requester:
        """The requester this prediction acts through (its client's, else the default one)."""
        return self._requester or default_requester()

    def _update(self, other: Prediction) -> None:
        for name in _FIELDS:
            setattr(self, name, getattr(other, name))
        self.extra = other.extra

    def reload(self) -> None:
        """Fetches the prediction again and updates this object in place."""
        self._reload(None)

    def _reload(self, deadline: Optional[float]) -> None:
        self._update(Predictions(self.requester)._get(self.id, deadline))

    def cancel(self) -> None:
        """Cancels the prediction and updates this object with the API's answer."""
        self._update(Predictions(self.requester).cancel(self.id))

    def wait(self, timeout: Optional[float] = None) -> None:
        """Polls at the client's ``poll_interval`` until the status is terminal.

        ``wait`` only waits: a failed or canceled prediction returns normally (look at
        ``status``); ``run()`` and ``output_iterator()`` are the ones that raise.

        Args:
            timeout: overall seconds to wait, every request included; ``None`` waits as
                long as it takes.

        Raises:
            WaitTimeoutError: ``timeout`` passed first (the prediction keeps running).
        """
        deadline = deadline_for(timeout)
        for delay in polling(self, deadline):
            time.sleep(delay)
            _within(deadline, self, self._reload, deadline)

    async def async_wait(self, timeout: Optional[float] = None) -> None:
        """Async ``wait``: sleeps on the event loop between reloads, holding no thread."""
        import asyncio

        deadline = deadline_for(timeout)
        for delay in polling(self, deadline):
            await asyncio.sleep(delay)
            await self.requester.run_async(_within, deadline, self, self._reload, deadline)

    async def async_reload(self) -> None:
        """Async ``reload``."""
        await self.requester.run_async(self.reload)

    async def async_cancel(self) -> None:
        """Async ``cancel``."""
        await self.requester.run_async(self.cancel)

    # -- output as it is made -------------------------------------------------------

    def stream(
        self,
        *,
        idle_timeout: Union[float, UseClientDefault, None] = USE_CLIENT_DEFAULT,
        max_reconnects: int = DEFAULT_MAX_RECONNECTS,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        use_file_output: bool = True,
    ) -> EventStream:
        """Streams the prediction's server-sent events as they arrive; ends after ``done``.

        Output events are ``str(event)``-able to their text; ``logs`` events carry log
        lines. A dropped or silent connection is resumed with ``Last-Event-ID``, and no
        event id is handed out twice. Close the returned stream (or leave its ``with``
        block, or drop it) to drop the connection.

        Args:
            idle_timeout: seconds of silence before reconnecting; by default the client's
                ``stream_idle_timeout``; ``None`` waits forever.
            max_reconnects: how often a broken stream is resumed before giving up.
            max_event_size: the longest line and the most data of one event, in characters.
            use_file_output: an output event whose data is an ``https:`` or ``data:`` URL
                carries a ``FileOutput`` (a ``str`` of the URL that also reads the file).

        Raises:
            ReplicateError: the prediction has no stream URL (the model does not support
                streaming), or the stream URL answered with an error status.
            StreamError: the model reported an ``error`` event (``.detail``), or the
                stream broke beyond repair.

        A prediction canceled (or aborted) while streaming ends the stream cleanly, as
        in the official client: the ``done`` event (its data names the ``reason``) is
        yielded, ``status`` is updated, and the iteration stops without raising.
        """
        url = (self.urls or {}).get("stream")
        if not url:
            raise ReplicateError(
                title="Streaming not supported",
                detail=f"prediction {self.id} has no stream URL: the model does not support streaming",
            )
        check_url("urls.stream", url)
        if isinstance(max_reconnects, bool) or not isinstance(max_reconnects, int) or max_reconnects < 0:
            raise ValueError(f"max_reconnects must be a whole number, 0 or more, got {excerpt(max_reconnects)}")
        if not isinstance(idle_timeout, UseClientDefault):
            check_seconds("idle_timeout", idle_timeout, allow_none=True, positive=True)

        def finished() -> bool:
            self.reload()
            return self.done

        from ._files import transform_output  # files load when a stream first needs them

        return EventStream(
            self.requester,
            url,
            idle_timeout=idle_timeout,
            max_reconnects=max_reconnects,
            max_event_size=max_event_size,
            is_finished=finished,
            on_done=self._on_done,
            output=(lambda data: transform_output(data, self.requester)) if use_file_output else None,
        )

    def _on_done(self, event: ServerSentEvent) -> None:
        """A ``done`` event that names a reason (``canceled``, ``aborted``) updates the status."""
        if '"reason"' not in event.data:
            return  # the usual "{}"
        try:
            payload = event.json()
        except StreamError:  # a done event's data is a courtesy: what cannot be read is ignored
            return
        reason = payload.get("reason") if isinstance(payload, dict) else None
        if reason in (Status.CANCELED, Status.ABORTED):
            self.status = _STATUSES[str(reason)]

    def async_stream(
        self,
        *,
        idle_timeout: Union[float, UseClientDefault, None] = USE_CLIENT_DEFAULT,
        max_reconnects: int = DEFAULT_MAX_RECONNECTS,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        use_file_output: bool = True,
    ) -> AsyncEventStream:
        """Async ``stream``: ``async for event in prediction.async_stream()`` (``await`` it first, if you like).

        Leaving ``async with``, ``aclose()``, or cancelling the task closes the connection.
        """
        return AsyncEventStream(
            self.requester,
            lambda: self.stream(
                idle_timeout=idle_timeout,
                max_reconnects=max_reconnects,
                max_event_size=max_event_size,
                use_file_output=use_file_output,
            ),
        )

    def output_iterator(self) -> Iterator[Any]:
        """Yields each new item of a list output as it appears, polling at the client's interval.

        A non-list output is yielded once, at the end. Ends when the prediction ends.

        Raises:
            ModelError: the prediction failed; PredictionCanceledError: it was canceled
            or aborted (each after yielding what it had produced).
        """
        count = 0
        for delay in polling(self, None):
            new, count = _new_items(self.output, count, False)
            yield from new
            time.sleep(delay)
            self.reload()
        new, count = _new_items(self.output, count, True)
        yield from new
        check_outcome(self)

    async def async_output_iterator(self) -> AsyncIterator[Any]:
        """Async ``output_iterator``: sleeps on the event loop between polls, holding no thread."""
        import asyncio

        count = 0
        for delay in polling(self, None):
            new, count = _new_items(self.output, count, False)
            for item in new:
                yield item
            await asyncio.sleep(delay)
            await self.async_reload()
        new, count = _new_items(self.output, count, True)
        for item in new:
            yield item
        check_outcome(self)


#: The JSON type of each checked field (``output`` and ``extra`` hold anything). A new field
#: is added here too; tests/test_prediction.py checks that every field is named.
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
_UNCHECKED_FIELDS = ("output", "extra")
_REQUIRED = ("id", "status")
_FIELDS = tuple(item.name for item in fields(Prediction) if item.name != "extra")
_FIELD_SET = frozenset(_FIELDS)
_INIT_NAMES = frozenset(item.name for item in fields(_Fields))


def polling(
    prediction: Prediction, deadline: Optional[float], *, until: Optional[Callable[[Prediction], bool]] = None
) -> Iterator[float]:
    """The one polling loop: yields how long to sleep before each reload, until the prediction
    ends (or until ``until(prediction)`` holds).

    The caller sleeps (``time.sleep`` or ``asyncio.sleep``) and reloads; the generator
    looks at the prediction again before each step, so every state the caller sees
    (``wait``, ``output_iterator``, the command line's status line) comes through here.

    Raises:
        WaitTimeoutError: ``deadline`` (a ``time.monotonic()`` value) passed first.
    """
    while not (prediction.done if until is None else until(prediction)):
        interval = prediction.requester.settings.poll_interval
        if deadline is None:
            yield interval
            continue
        left = deadline - time.monotonic()
        if left <= 0:
            raise _timed_out(prediction)
        yield min(interval, left)


def _timed_out(prediction: Prediction) -> WaitTimeoutError:
    return WaitTimeoutError(
        f"prediction {prediction.id} is still {str(prediction.status)!r} after the timeout; it keeps running",
        prediction,
    )


def _within(deadline: Optional[float], prediction: Prediction, call: Any, *args: Any) -> None:
    """``call(*args)``; a request cut short by ``deadline`` is a ``WaitTimeoutError``."""
    try:
        call(*args)
    except APITimeoutError as exc:
        if deadline is not None and time.monotonic() >= deadline - 0.01:
            raise _timed_out(prediction) from exc
        raise


def _new_items(output: Any, count: int, done: bool) -> Tuple[List[Any], int]:
    """The items of ``output`` past the first ``count``, and the new count.

    A list grows as the model works; any other output is complete only once ``done``.
    """
    if isinstance(output, list):
        return output[count:], max(count, len(output))
    if done and output is not None and count == 0:
        return [output], 1
    return [], count


def deadline_for(timeout: Optional[float]) -> Optional[float]:
    """The ``time.monotonic()`` value ``timeout`` seconds from now, or None; checks ``timeout``."""
    seconds = check_seconds("timeout", timeout, allow_none=True)
    return None if seconds is None else time.monotonic() + seconds


def create_prediction(requester: Requester, request: CreateRequest, deadline: Optional[float]) -> Prediction:
    """The one create: posts ``request`` (its files encoded), bounded by ``deadline``
    (a ``time.monotonic()`` value) if given; the read timeout grows to cover a ``wait`` hold."""
    from ._files import encode_files

    assert request.input is not None  # CreateRequest makes None {}
    body = request.body(encode_files(request.input, requester, request.file_encoding_strategy, deadline))
    data = requester.request(
        "POST",
        request.path,
        json=body,
        headers=request.headers,
        read_timeout=request.read_timeout(requester.settings.read_timeout),
        deadline=deadline,
        idempotent=False,
    )
    return Prediction.from_json(data, requester)


def _prediction_path(id: Any, suffix: str = "") -> str:
    if not isinstance(id, str) or not id:
        raise TypeError(f"id must be a non-empty prediction id string, got {excerpt(id)}")
    return f"/v1/predictions/{path_segment(id)}{suffix}"


class Predictions:
    """``client.predictions``: create, get, list and cancel predictions."""

    def __init__(self, requester: Requester) -> None:
        self._requester = requester

    def __repr__(self) -> str:
        return f"<Predictions of {self._requester!r}>"

    def _parse(self, data: Any) -> Prediction:
        return Prediction.from_json(data, self._requester)

    def create(
        self,
        version: Optional[str] = None,
        input: Optional[Dict[str, Any]] = None,
        *,
        model: Optional[Target] = None,
        deployment: Optional[Target] = None,
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
                ``model`` (``owner/name``, the models endpoint) and ``deployment``
                (each of the last two also as an ``(owner, name)`` tuple).
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
        request = CreateRequest(
            version=version,
            input=input,
            model=model,
            deployment=deployment,
            webhook=webhook,
            webhook_completed=webhook_completed,
            webhook_events_filter=webhook_events_filter,
            stream=stream,
            wait=wait,
            cancel_after=cancel_after,
            file_encoding_strategy=file_encoding_strategy,
        )
        return create_prediction(self._requester, request, None)

    def get(self, id: str) -> Prediction:
        """Fetches a prediction by id.

        Raises:
            ValidationError: the server answered with another prediction than the one asked for.
        """
        return self._get(id, None)

    def _get(self, id: str, deadline: Optional[float]) -> Prediction:
        id = plain(id)  # the id asked for is the id compared with the answer's
        prediction = self._parse(self._requester.request("GET", _prediction_path(id), deadline=deadline))
        if prediction.id != id:  # a second line of defence against a response meant for another request
            raise ValidationError(
                f"asked for prediction {id!r}, the server answered with {prediction.id[:80]!r}",
                field="id",
                value=prediction.id,
            )
        return prediction

    def list(self, cursor: Union[str, ellipsis, None] = ...) -> Page[Prediction]:
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
            target = check_caller_url("cursor", cursor)
        else:
            raise TypeError(f"cursor must be a page's next URL, got {shown_url(cursor)}")
        return parse_page(self._requester.request("GET", target), self._parse)

    def cancel(self, id: str) -> Prediction:
        """Cancels a prediction and returns it as the API answered."""
        return self._parse(self._requester.request("POST", _prediction_path(id, "/cancel")))

    async_create = async_twin(create)
    async_get = async_twin(get)
    async_list = async_twin(list)
    async_cancel = async_twin(cancel)
