"""The worker threads the async twins run on.

Each ``async_x`` runs its sync twin on a worker thread, with the caller's
``contextvars`` copied, exactly as ``asyncio.to_thread`` does. But ``to_thread`` uses
the event loop's default executor, which has ``min(32, cpus + 4)`` threads: 6 on a
2-core serverless function, so 300 concurrent calls would run 6 at a time. A client
owns its ``Workers`` instead, sized by its ``max_concurrency``: threads start on
demand, up to that many, and retire after a few idle seconds. They are daemon
threads, so calls still in flight never hold up the interpreter's exit. The loop's
default executor is left alone: it belongs to the application.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections import deque
from concurrent.futures import Executor, Future
from typing import Any, Callable, Deque, Tuple, TypeVar

from . import _fork

__all__ = ["Workers", "run_in_worker"]

T = TypeVar("T")
#: Seconds an idle worker waits for work before it retires.
IDLE_SECONDS = 10.0

_Item = Tuple["Future[Any]", Callable[..., Any], Tuple[Any, ...], "dict[str, Any]"]


class Workers(Executor):
    """At most ``max_workers`` daemon threads, started on demand and retired when idle."""

    def __init__(self, max_workers: int, *, idle_seconds: float = IDLE_SECONDS, name: str = "replicate-min") -> None:
        self.max_workers = max_workers
        self._idle_seconds = idle_seconds
        self._name = name
        self._queue: Deque[_Item] = deque()
        self._changed = threading.Condition(threading.Lock())
        self._threads = 0
        self._idle = 0
        self._busy = 0
        self._shutdown = False
        _fork.track(self)

    def _after_fork_in_child(self) -> None:
        """A forked child has none of the parent's threads: count none, and queue none of its work."""
        self._queue = deque()
        self._changed = threading.Condition(threading.Lock())
        self._threads = self._idle = self._busy = 0

    @property
    def threads(self) -> int:
        """Worker threads alive now."""
        return self._threads

    @property
    def busy(self) -> int:
        """Workers running a call now."""
        return self._busy

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._changed:
            if self._shutdown:
                raise RuntimeError("the workers were shut down")
            self._queue.append((future, fn, args, kwargs))
            if self._idle > len(self._queue) - 1:
                self._changed.notify()
            elif self._threads < self.max_workers:
                self._threads += 1
                number = self._threads
                threading.Thread(target=self._work, name=f"{self._name}-{number}", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stops taking work; idle workers retire at once. ``wait`` is not honoured (daemon threads)."""
        with self._changed:
            self._shutdown = True
            if cancel_futures:
                while self._queue:
                    self._queue.popleft()[0].cancel()
            self._changed.notify_all()

    def _work(self) -> None:
        while True:
            with self._changed:
                while not self._queue:
                    if self._shutdown:
                        self._threads -= 1
                        return
                    self._idle += 1
                    woken = self._changed.wait(self._idle_seconds)
                    self._idle -= 1
                    if not woken and not self._queue:
                        self._threads -= 1
                        return
                future, fn, args, kwargs = self._queue.popleft()
                self._busy += 1
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        result = fn(*args, **kwargs)
                    except BaseException as exc:
                        future.set_exception(exc)
                    else:
                        future.set_result(result)
            finally:
                del future, fn, args, kwargs  # drop references before waiting again
                with self._changed:
                    self._busy -= 1


async def run_in_worker(workers: Workers, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` on one of ``workers``, in a copy of the caller's context."""
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, function, *args, **kwargs)
    return await loop.run_in_executor(workers, call)
