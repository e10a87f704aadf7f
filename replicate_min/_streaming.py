"""Reading a prediction's event stream: reconnection, de-duplication, and async iteration.

``EventStream`` reads the SSE body with ``read1``, so each event is handed out as soon
as its bytes arrive, and feeds it to the pure parser. If the connection drops, or
stays silent past the idle timeout, before a ``done`` event, it reconnects with
``Last-Event-ID`` (bounded attempts, with backoff) and a ``ReplayFilter`` drops the
events the server sends again.

One iteration protocol: ``EventStream`` is its own iterator (``__iter__`` returns
``self``), so ``next()``, ``islice`` and ``for`` all take events from one queue.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Callable, Deque, Generator, List, Optional, Tuple, Union

from ._defaults import DEFAULT_MAX_EVENT_SIZE, DEFAULT_MAX_RECONNECTS
from ._exceptions import APIConnectionError, StreamError
from ._requester import USE_CLIENT_DEFAULT, Cancel, Requester, UseClientDefault
from ._sse import ServerSentEvent, SSEParser, _EventType
from ._urls import FILE_URL_PREFIXES

__all__ = ["MAX_RECONNECT_DELAY", "AsyncEventStream", "EventStream", "ReplayFilter"]

#: The longest wait before a reconnect, in seconds, whatever the server's ``retry:`` asks.
MAX_RECONNECT_DELAY = 30.0
_END: Any = object()
_OUTPUT = _EventType.OUTPUT


def _order_key(event_id: str) -> Optional[Tuple[int, ...]]:
    """Replicate's ids look like ``1690212292:0``; numbers like that are ordered."""
    parts = event_id.split(":")
    if len(parts) > 4 or not all(part.isascii() and part.isdigit() and len(part) <= 20 for part in parts):
        return None
    return tuple(int(part) for part in parts)


class ReplayFilter:
    """Drops the events a server sends again after a reconnect. Pure: no I/O, no clock.

    Replicate's ids (``1690212292:0``) are ordered, so anything up to the last id seen
    is old. Other ids are remembered, at most ``max_ids`` of them and ``max_chars``
    characters in all, oldest forgotten first. The first new event ends the check:
    from there on the server sends what follows. An event without an ``id:`` line of
    its own cannot be told apart from a new one, so it is always handed out.
    """

    def __init__(self, max_ids: int = 4096, max_chars: int = 1 << 20) -> None:
        self.max_ids = max_ids
        self.max_chars = max_chars
        self._ids: Deque[str] = deque()
        self._known: set[str] = set()
        self._chars = 0
        self._ordered = True  # until an id that is not an ordered number is seen
        self._replaying = False
        self._resume_key: Optional[Tuple[int, ...]] = None

    def resume(self, last_id: str) -> None:
        """A reconnect from ``last_id``: events up to it may come again."""
        self._replaying = bool(last_id)
        self._resume_key = _order_key(last_id) if last_id else None

    def accept(self, events: List[ServerSentEvent]) -> List[ServerSentEvent]:
        """The events of ``events`` not handed out before."""
        if self._ordered and not self._replaying:  # the usual case: nothing to check one by one
            if not events or not events[-1].id or _order_key(events[-1].id) is not None:
                return events
            self._ordered = False
        fresh = []
        for event in events:
            if self._replaying and event.own_id and self._seen(event.id):
                continue
            if not self._ordered and event.id:
                self._remember(event.id)
            fresh.append(event)
        return fresh

    def _seen(self, event_id: str) -> bool:
        key = _order_key(event_id) if event_id else None
        if self._resume_key is not None and key is not None and len(key) == len(self._resume_key):
            old = key <= self._resume_key
        else:
            old = event_id in self._known
        self._replaying = old
        return old

    def _remember(self, event_id: str) -> None:
        if event_id in self._known:
            return
        self._ids.append(event_id)
        self._known.add(event_id)
        self._chars += len(event_id)
        while len(self._ids) > self.max_ids or self._chars > self.max_chars:
            old = self._ids.popleft()
            self._known.discard(old)
            self._chars -= len(old)


class EventStream:
    """An iterator of ``ServerSentEvent`` that ends after ``done``. Close it to drop the connection.

    ``close()`` is safe from any thread at any moment: a read blocked on the socket
    wakes up, and the iteration ends. Leaving a ``with`` block closes it; so does
    dropping the last reference to it.

    Raises (while iterating):
        StreamError: an ``error`` event (its detail attached), a body that is not SSE, an
            oversized event, or a stream that could not be resumed.
        ReplicateError: the stream URL answered with an error status.
    """

    def __init__(
        self,
        requester: Requester,
        url: str,
        *,
        idle_timeout: Union[float, UseClientDefault, None] = USE_CLIENT_DEFAULT,
        max_reconnects: int = DEFAULT_MAX_RECONNECTS,
        max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
        is_finished: Callable[[], bool],
        on_done: Optional[Callable[[ServerSentEvent], None]] = None,
        output: Optional[Callable[[str], str]] = None,
    ) -> None:
        """``output`` turns an output event's ``https:``/``data:`` URL into what it hands out."""
        self._requester = requester
        self._url = url
        self._idle_timeout = idle_timeout
        self._max_reconnects = max_reconnects
        self._is_finished = is_finished
        self._on_done = on_done
        self._output = output  # what an output event's data becomes (a FileOutput for a URL)
        self._parser = SSEParser(max_event_size)
        self._replays = ReplayFilter()
        self._queue: Deque[ServerSentEvent] = deque()
        self._response: Any = None
        import threading  # loaded with the first stream, not with the client

        self._lock = threading.Lock()  # guards _response
        self._reading = threading.Lock()  # held by the thread inside __next__
        self._closed = threading.Event()
        self._cancel = Cancel()  # breaks the connection in use (connecting too) and stops retries
        self._ended = False  # done was handed out, or the server said the prediction finished
        self._at_end_of_body = False
        self._reconnects = 0

    def __iter__(self) -> EventStream:
        return self

    def __next__(self) -> ServerSentEvent:
        while not self._queue:
            if self._ended or self._closed.is_set():
                self._finish()
                raise StopIteration
            with self._reading:
                try:
                    self._fill()
                except BaseException:
                    if self._closed.is_set():
                        continue  # close() broke the read or the connect: the stream just ends
                    self._finish()
                    raise
        event = self._queue.popleft()
        kind = event.event
        if kind is _OUTPUT:
            # only data that names a file becomes a FileOutput; the rest is handed out as it came
            if self._output is not None and event.data.startswith(FILE_URL_PREFIXES):
                event.data = self._output(event.data)
        elif kind is _EventType.DONE:
            self._ended = True
            self._queue.clear()
            self.close()
            if self._on_done is not None:
                self._on_done(event)
        elif kind is _EventType.ERROR:
            self._ended = True
            self.close()
            raise _model_error(event)
        return event

    def close(self) -> None:
        """Closes the connection; safe to call from any thread, also while another reads.

        From another thread it only breaks the connection (a blocked read or connect
        wakes up, retries stop); the reading thread then closes the response itself,
        so no two threads ever work on one ``http.client`` response.
        """
        self._closed.set()
        self._cancel.set()
        if self._reading.acquire(blocking=False):  # nobody is reading: close it here
            try:
                self._finish()
            finally:
                self._reading.release()

    def _finish(self) -> None:
        """In the reading thread (or with no reader): ends the stream and closes its response."""
        self._closed.set()
        self._cancel.set()
        with self._lock:
            response, self._response = self._response, None
        if response is not None:
            response.close()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def __del__(self) -> None:
        if "_closed" in self.__dict__:  # not when __init__ refused an argument before making it
            self.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _connect(self) -> Any:
        last_id = self._parser.last_event_id
        # A header is Latin-1 on the wire: an id beyond it (the SSE stream is UTF-8) goes back
        # as the very UTF-8 bytes the server sent, which is what it can match.
        headers = {"Last-Event-ID": last_id.encode("utf-8").decode("latin-1")} if last_id else None
        response = self._requester.open_stream(
            self._url, headers=headers, idle_timeout=self._idle_timeout, cancel=self._cancel
        )
        with self._lock:
            if self._closed.is_set():  # closed while connecting: this response is nobody's
                response.close()
                return None
            self._response = response
        return response

    def _fill(self) -> None:
        """Reads once and queues what that completes; reconnects if the stream broke."""
        if self._at_end_of_body:  # the body ended without done: finished, or cut?
            self._at_end_of_body = False
            if self._is_finished():
                self._ended = True
            else:
                self._reconnect(None)
            return
        response = self._response or self._connect()
        if response is None:
            return
        try:
            chunk = response.read1()
        except APIConnectionError as exc:  # dropped, or silent past the idle timeout
            if not self._closed.is_set():
                self._reconnect(exc)
            return
        if chunk:
            self._queue.extend(self._replays.accept(self._parser.feed(chunk)))
            return
        self._queue.extend(self._replays.accept(self._parser.close()))  # the end of the body
        with self._lock:
            self._response = None
        self._at_end_of_body = True

    def _reconnect(self, cause: Optional[Exception]) -> None:
        with self._lock:
            response, self._response = self._response, None
        if response is not None:
            response.close()
        self._reconnects += 1
        if self._reconnects > self._max_reconnects:
            raise StreamError(
                f"the event stream {self._url!r} ended before its done event, {self._max_reconnects} reconnects later"
            ) from cause
        retry = self._parser.retry
        delay = retry / 1000 if retry is not None else 0.1 * 2 ** (self._reconnects - 1)
        self._closed.wait(min(delay, MAX_RECONNECT_DELAY))  # close() cuts the wait short
        last_id = self._parser.last_event_id
        self._replays.resume(last_id)
        self._parser = self._parser.fresh()  # a new connection starts a new parse


def _model_error(event: ServerSentEvent) -> StreamError:
    """The error an ``error`` event reports: its JSON ``detail``, else its text."""
    import json

    detail = event.data
    try:
        payload = json.loads(event.data)
    except (ValueError, RecursionError):
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("detail"), str):
        detail = payload["detail"]
    return StreamError(f"the prediction reported an error: {detail[:2000]!r}", detail=detail)


class AsyncEventStream:
    """The async face of an ``EventStream``: ``async for``, ``async with``, and ``await``.

    Each step pulls one event from the sync stream on one of the client's worker
    threads, so a stream waiting for its next event holds a worker only while it
    waits. Cancelling the task, ``aclose()`` or leaving ``async with`` closes the
    connection. Both ``async for e in stream`` and ``async for e in await stream``
    work (the official client documents the second).
    """

    def __init__(self, requester: Requester, open_stream: Callable[[], EventStream]) -> None:
        self._requester = requester
        self._open_stream = open_stream
        self._stream: Optional[EventStream] = None
        self._closed = False

    async def _opened(self) -> AsyncEventStream:
        if self._stream is None and not self._closed:
            self._stream = await self._requester.run_async(self._open_stream)
        return self

    def __await__(self) -> Generator[Any, None, AsyncEventStream]:
        return self._opened().__await__()

    def __aiter__(self) -> AsyncEventStream:
        """The stream itself: one iteration protocol per object, as ``EventStream``.

        A loop left with ``break`` does not close it at once: leave ``async with`` or call
        ``aclose()`` for that (dropping the stream closes it too).
        """
        return self

    async def __anext__(self) -> ServerSentEvent:
        try:
            await self._opened()
            stream = self._stream
            if stream is None:
                raise StopAsyncIteration
            event = await self._requester.run_async(next, stream, _END)
        except BaseException:  # an error, or the task was cancelled: the connection goes
            await self.aclose()
            raise
        if event is _END:
            raise StopAsyncIteration
        return event  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        """Closes the connection (it never blocks: a blocked read is woken)."""
        self._closed = True
        if self._stream is not None:
            self._stream.close()

    async def __aenter__(self) -> AsyncEventStream:
        return await self._opened()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.aclose()
