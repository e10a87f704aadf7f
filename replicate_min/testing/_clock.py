"""Clocks for the fake server: time is a parameter (after trio's ``MockClock``).

Everything in the fake that takes time (a prediction's start delay and steps, ``Prefer: wait``
holds, stream keep-alives, injected delays, ``latency``) reads ``clock.now()`` and blocks with
``clock.wait(condition, deadline)``. With :class:`SystemClock` that is monotonic real time.
With :class:`ManualClock` time stands still until a test calls ``clock.advance(seconds)``,
which notifies every condition waiting on the clock, so a test decides exactly when
things happen and never sleeps.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Optional

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock:
    """What the fake needs of time. :class:`SystemClock` and :class:`ManualClock` implement it."""

    #: True if time passes only when told to. Model code then takes no time: a reader of a
    #: prediction waits for the model code that is due to return before it answers.
    frozen: bool = False

    def now(self) -> float:
        """The current time in seconds (any origin; only differences matter)."""
        raise NotImplementedError

    def attach(self, condition: threading.Condition) -> None:
        """Asks the clock to notify ``condition`` whenever time jumps (a no-op for real time)."""

    def wait(self, condition: threading.Condition, deadline: Optional[float]) -> None:
        """Blocks, with ``condition`` held, until it is notified or the clock reads ``deadline``.

        Like ``Condition.wait`` it may return early: callers re-check what they wait for.
        ``deadline=None`` waits for a notification only.
        """
        raise NotImplementedError

    def sleep(self, seconds: float) -> None:
        """Blocks the calling thread for ``seconds`` of this clock's time."""
        raise NotImplementedError


class SystemClock(Clock):
    """Monotonic real time (``time.monotonic``): the default."""

    def now(self) -> float:
        return time.monotonic()

    def wait(self, condition: threading.Condition, deadline: Optional[float]) -> None:
        condition.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock(Clock):
    """Time that moves only when a test calls :meth:`advance`.

    Args:
        start: the time it reads at first.

    Threads blocked on the clock (in :meth:`wait` or :meth:`sleep`) wake on every
    ``advance`` and re-check their deadlines; :meth:`wait_for_waiters` lets a test wait
    until a request it issued from another thread is parked on the clock before advancing.
    """

    frozen = True

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        # Guards _now, _conditions and _waiters; notified when the number of waiters changes.
        self._lock = threading.Condition()
        self._conditions: weakref.WeakSet[threading.Condition] = weakref.WeakSet()
        self._waiters = 0  # threads parked on the clock since the last advance
        self._generation = 0  # advances so far
        self._sleepers = threading.Condition()
        self._conditions.add(self._sleepers)

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Moves time forward by ``seconds`` and wakes everything waiting on the clock.

        Returns:
            The new time.

        Raises:
            ValueError: if ``seconds`` is negative (time never goes back).
        """
        if seconds < 0:
            raise ValueError(f"a clock cannot go back ({seconds} seconds)")
        with self._lock:
            self._now += seconds
            now = self._now
            conditions = list(self._conditions)
            # Every waiter wakes to re-check its deadline: it counts again once it parks again.
            self._generation += 1
            self._waiters = 0
        # Notified outside our lock: a waiter holds its condition and then takes our lock.
        for condition in conditions:
            with condition:
                condition.notify_all()
        return now

    def attach(self, condition: threading.Condition) -> None:
        with self._lock:
            self._conditions.add(condition)

    def wait(self, condition: threading.Condition, deadline: Optional[float]) -> None:
        with self._lock:
            self._conditions.add(condition)
            # An advance between the caller's check and this attach would otherwise be missed.
            if deadline is not None and self._now >= deadline:
                return
            self._waiters += 1
            generation = self._generation
            self._lock.notify_all()
        try:
            condition.wait()
        finally:
            with self._lock:
                if generation == self._generation:
                    self._waiters -= 1
                    self._lock.notify_all()

    def sleep(self, seconds: float) -> None:
        with self._sleepers:
            end = self.now() + seconds
            while self.now() < end:
                self.wait(self._sleepers, end)

    @property
    def waiters(self) -> int:
        """How many threads are blocked on the clock now (parked since the last ``advance``)."""
        with self._lock:
            return self._waiters

    def wait_for_waiters(self, count: int = 1, timeout: float = 5.0) -> None:
        """Blocks until at least ``count`` threads are blocked on the clock (like trio's
        ``wait_all_tasks_blocked``), so that a later :meth:`advance` is seen by them.

        Only threads that parked since the last ``advance`` count: one that the advance woke
        counts again once it has re-checked its deadline and parked again.

        ``timeout`` is real seconds, a safety net against a test that would hang.

        Raises:
            TimeoutError: if that many never block within ``timeout``.
        """
        with self._lock:
            if not self._lock.wait_for(lambda: self._waiters >= count, timeout):
                raise TimeoutError(f"{self._waiters} threads are waiting on the clock, not {count}")

    def __repr__(self) -> str:
        return f"ManualClock(now={self.now()!r})"
