"""Reading a prediction's event stream: reconnection, de-duplication, and async iteration.

``EventStream`` reads the SSE body with ``read1``, so each event is yielded as soon as
its bytes arrive, and feeds it to the pure parser. If the connection drops, or stays
silent past the idle timeout, before a ``done`` event, it reconnects with
``Last-Event-ID`` (bounded attempts, with backoff) and skips events it already yielded.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Deque, Iterator, List, Optional, Set, Tuple, TypeVar

from ._exceptions import APIConnectionError, StreamError
from ._sse import DEFAULT_MAX_EVENT_SIZE, ServerSentEvent, SSEParser, _EventType

if TYPE_CHECKING:
    from ._client import Client
    from ._transport import StreamResponse

__all__ = ["EventStream", "iterate_in_thread"]

T = TypeVar("T")
#: How many recent event ids are remembered to skip replays, when ids are not ordered numbers.
REMEMBERED_IDS = 4096
_END: Any = object()


def _order_key(event_id: str) -> Optional[Tuple[int, ...]]:
    """Replicate's ids look like ``1690212292:0``; numbers like that are ordered."""
    try:
        return tuple(int(part) for part in event_id.split(":"))
    except ValueError:
        return None


class EventStream:
    """An iterator of ``ServerSentEvent`` that ends after ``done``. Close it to drop the connection.

    Raises (while iterating):
        StreamError: an ``error`` event (its detail attached), a body that is not SSE, an
            oversized event, or a stream that could not be resumed.
        ReplicateError: the stream URL answered with an error status.
    """

    def __init__(
        self,
        client: Client,
        url: str,
        *,
        idle_timeout: Optional[float],
        max_reconnects: int,
        is_finished: Callable[[], bool],
        max_event_size: Optional[int] = None,
    ) -> None:
        self._client = client
        self._url = url
        self._idle_timeout = idle_timeout
        self._max_reconnects = max_reconnects
        self._is_finished = is_finished
        self._parser = SSEParser(DEFAULT_MAX_EVENT_SIZE if max_event_size is None else max_event_size)
        self._pending: List[ServerSentEvent] = []
        self._position = 0  # of the next event to hand out
        self._response: Optional[StreamResponse] = None
        self._lock = threading.Lock()
        self._closed = False
        self._done = False
        self._reconnects = 0
        self._replaying = False  # after a reconnect, until the first event not seen before
        self._resume_key: Optional[Tuple[int, ...]] = None
        # Ids that are not ordered numbers are remembered (bounded) from the first one seen.
        self._recent_ids: Optional[Set[str]] = None
        self._recent_order: Optional[Deque[str]] = None

    def __iter__(self) -> Iterator[ServerSentEvent]:
        # A fresh generator, not kept on self: a loop that is left early drops it, and
        # its ``finally`` closes the connection at once (a stored one would be a cycle).
        return self._generate()

    def __next__(self) -> ServerSentEvent:
        try:
            if not self._refill():
                raise StopIteration
        except BaseException:
            self.close()
            raise
        event = self._pending[self._position]
        self._position += 1
        if event.event is _EventType.DONE:
            self._done = True
            self.close()
        elif event.event is _EventType.ERROR:
            self.close()
            raise _model_error(event)
        return event

    def _generate(self) -> Iterator[ServerSentEvent]:
        done, error = _EventType.DONE, _EventType.ERROR
        try:
            while self._refill():
                pending = self._pending
                for index in range(self._position, len(pending)):
                    event = pending[index]
                    self._position = index + 1  # shared with __next__
                    if event.event is error:
                        raise _model_error(event)
                    yield event
                    if event.event is done:
                        self._done = True
                        return
        finally:
            self.close()

    def _refill(self) -> bool:
        """Reads until an event is pending; False once the stream is over."""
        while self._position >= len(self._pending):
            if self._done or self._closed:
                return False
            self._pending, self._position = [], 0
            self._fill()
        return True

    def close(self) -> None:
        """Closes the connection; safe to call from any thread, also while another reads."""
        with self._lock:
            self._closed = True
            response, self._response = self._response, None
        if response is not None:
            response.abort()
            response.close()

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _connect(self) -> StreamResponse:
        headers = {"Last-Event-ID": self._parser.last_event_id} if self._parser.last_event_id else {}
        response = self._client._open_stream(self._url, headers, self._idle_timeout)
        with self._lock:
            if self._closed:
                response.close()
                raise StopIteration
            self._response = response
        return response

    def _fill(self) -> None:
        """Reads once; what it completes is pending. Reconnects if the stream broke."""
        response = self._response or self._connect()
        try:
            chunk = response.read1(65536)
        except APIConnectionError as exc:  # dropped, or silent past the idle timeout
            if self._closed:
                return
            return self._reconnect(exc)
        if chunk:
            events = self._parser.feed(chunk)
            if self._recent_order is None and events and events[-1].id and _order_key(events[-1].id) is None:
                self._recent_ids, self._recent_order = set(), deque()
            self._accept(events)
            return
        self._accept(self._parser.close())  # the end of the body: flush a last event
        if self._position >= len(self._pending) and not self._done:
            if self._is_finished():
                self._done = True
            else:
                self._reconnect(None)

    def _reconnect(self, cause: Optional[Exception]) -> None:
        response, self._response = self._response, None
        if response is not None:
            response.close()
        self._reconnects += 1
        if self._reconnects > self._max_reconnects:
            raise StreamError(
                f"the event stream {self._url} ended before its done event, {self._max_reconnects} reconnects later"
            ) from cause
        retry = self._parser.retry
        time.sleep(retry / 1000 if retry is not None else min(0.1 * 2 ** (self._reconnects - 1), 5.0))
        last_id = self._parser.last_event_id
        self._replaying = bool(last_id)
        self._resume_key = _order_key(last_id) if last_id else None
        self._parser = SSEParser(self._parser.max_event_size)  # a fresh connection starts a fresh parse
        self._parser.last_event_id = last_id
        self._parser.retry = retry

    def _accept(self, events: List[ServerSentEvent]) -> None:
        if not self._replaying and self._recent_order is None:
            self._pending += events  # the usual case: nothing to check event by event
            return
        for event in events:
            if self._replaying and self._seen(event.id):
                continue
            if self._recent_order is not None and event.id:
                self._remember(event.id)
            self._pending.append(event)

    def _seen(self, event_id: str) -> bool:
        """After a reconnect: True for an event that was yielded before (a server may replay).

        Replicate's ids (``1690212292:0``) are ordered, so anything up to the last id seen
        is old; other ids are looked up among the last ``REMEMBERED_IDS``. The first new
        event ends the check: from there on the server sends what follows.
        """
        key = _order_key(event_id) if event_id else None
        if self._resume_key is not None and key is not None and len(key) == len(self._resume_key):
            old = key <= self._resume_key
        else:
            old = self._recent_ids is not None and event_id in self._recent_ids
        self._replaying = old
        return old

    def _remember(self, event_id: str) -> None:
        assert self._recent_ids is not None and self._recent_order is not None
        self._recent_ids.add(event_id)
        self._recent_order.append(event_id)
        if len(self._recent_order) > REMEMBERED_IDS:
            self._recent_ids.discard(self._recent_order.popleft())


def _model_error(event: ServerSentEvent) -> StreamError:
    """The error an ``error`` event reports: its JSON ``detail``, else its text."""
    import json

    detail = event.data
    try:
        payload = json.loads(event.data)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("detail"), str):
        detail = payload["detail"]
    return StreamError(f"the prediction reported an error: {detail}", detail=detail)


async def iterate_in_thread(make_iterator: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """Iterates a blocking iterator from async code, one item at a time, on a thread of its own.

    A stream waiting for its next event holds that thread, not one of the event loop's
    shared executor threads, so many concurrent streams starve nothing else. Leaving the
    ``async for`` early or cancelling the task closes the iterator (and its connection).
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="replicate-min-stream")
    iterator: Optional[Iterator[T]] = None
    try:
        iterator = await loop.run_in_executor(executor, make_iterator)
        while True:
            item = await loop.run_in_executor(executor, next, iterator, _END)
            if item is _END:
                return
            yield item
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
        executor.shutdown(wait=False)
