"""A fake prediction's life cycle: the states, the transition table, and the clock-driven run.

How this works (after h11's ``_state.py``): a prediction's status changes only in
:meth:`Record.transition`, and only along :data:`TRANSITIONS`::

    starting --start--> processing --succeed--> succeeded
        |                   |------fail-------> failed
        |--cancel--> canceled <--cancel/deadline--|
        '--deadline--> aborted

A prediction's schedule is a pure function of the clock: it starts at
``created + start_delay``; a list output emits item ``k`` at ``started + k * step``; a
generator is pulled right after each emission and its item emitted one ``step`` later
(``WAIT`` spends a step); any other output comes one ``step`` after the start. A
``Cancel-After`` deadline wins over anything due at the same time.

:meth:`Driver.catch_up` applies what is due by ``clock.now()``, at its scheduled time (so
timestamps and metrics do not depend on when someone looked); the fake calls it before every
read of a prediction, and waiters (``Prefer: wait``, streams) sleep on the clock until the
next due time. Model code (the function, each pull of its generator) runs on a runner thread
of the prediction's own, one call at a time, so a slow model never blocks a request.

On a real clock the runner also wakes when a step is due and goes on with whatever is due
(a real prediction runs whether anyone looks or not), and readers do not wait for model code
(the prediction is simply still running). On a frozen clock (``ManualClock``) model code takes
no time: readers drive the run up to the clock's time and wait for the model code they hand to
the runner, so every answer is determined by the clock alone, whichever thread asks first.
"""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from ._clock import Clock
from ._models import WAIT, ModelFunction

__all__ = ["TERMINAL", "TRANSITIONS", "Driver", "PredictionSnapshot", "Record", "Status", "Trigger"]


class Status(str, Enum):
    """A prediction's status, as the API spells it."""

    STARTING = "starting"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    ABORTED = "aborted"


class Trigger(str, Enum):
    """What moves a prediction from one status to another."""

    START = "start"  # the clock passed created + start_delay
    SUCCEED = "succeed"  # the model's output is complete
    FAIL = "fail"  # the model raised
    CANCEL = "cancel"  # POST .../cancel
    DEADLINE = "deadline"  # the clock passed the Cancel-After deadline


TERMINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELED, Status.ABORTED})

#: Every allowed transition: (from, trigger) -> to. Nothing else changes a status
#: (apart from ``FakeReplicate.update``, a test's explicit override).
TRANSITIONS: Dict[Tuple[Status, Trigger], Status] = {
    (Status.STARTING, Trigger.START): Status.PROCESSING,
    (Status.STARTING, Trigger.CANCEL): Status.CANCELED,
    (Status.STARTING, Trigger.DEADLINE): Status.ABORTED,
    (Status.PROCESSING, Trigger.SUCCEED): Status.SUCCEEDED,
    (Status.PROCESSING, Trigger.FAIL): Status.FAILED,
    (Status.PROCESSING, Trigger.CANCEL): Status.CANCELED,
    (Status.PROCESSING, Trigger.DEADLINE): Status.CANCELED,
}

_PULL: Any = object()  # the pending "item" of an iterator not pulled yet
_NOTHING: Any = object()


@dataclass(frozen=True)
class PredictionSnapshot:
    """A prediction as the fake holds it at one moment (``FakeReplicate.prediction(id)``).

    ``created``, ``started`` and ``completed`` are times on the fake's clock; the ``*_at``
    fields are the API's timestamps. ``events`` are the stream's ``(event, data)`` pairs so far.
    """

    id: str
    model: str
    version: str
    input: Dict[str, Any]
    status: str  # a Status, or any string a test set with ``update``
    output: Any
    logs: str
    error: Optional[str]
    created: float
    created_at: str
    started: Optional[float]
    started_at: Optional[str]
    completed: Optional[float]
    completed_at: Optional[str]
    metrics: Optional[Dict[str, Any]]
    deployment: Optional[str]
    deadline: Optional[float]
    events: Tuple[Tuple[str, str], ...]

    @property
    def done(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class _Call:
    """Model code due at clock time ``at``: calling the function (``start``) or pulling the next item."""

    start: bool
    at: float


@dataclass
class Record:
    """The fake's mutable record of one prediction (guarded by the fake's condition)."""

    seq: int
    id: str
    model: str
    version: str
    input: Dict[str, Any]
    function: ModelFunction
    created_at: str
    created: float
    deployment: Optional[str] = None
    deadline: Optional[float] = None
    extra: Dict[str, Any] = field(default_factory=dict)
    status: str = Status.STARTING  # a Status, or any string a test set with update()
    output: Any = None
    logs: str = ""
    error: Optional[str] = None
    started_at: Optional[str] = None
    started: Optional[float] = None
    completed_at: Optional[str] = None
    completed: Optional[float] = None
    metrics: Optional[Dict[str, Any]] = None
    events: List[Tuple[str, str]] = field(default_factory=list)  # (event, data), id = index + 1
    # The run: what the model returned and when its next step is due.
    items: Optional[Iterator[Any]] = field(default=None, repr=False)
    total: Optional[int] = None  # the length of a list output (for tqdm-like logs)
    single: Any = field(default=_NOTHING, repr=False)  # a non-list output, due at ``due``
    pending: Any = field(default=_PULL, repr=False)  # the item emitted at ``due``
    due: Optional[float] = None  # clock time of the next step while processing
    count: int = 0  # items emitted
    calling: bool = False  # model code is running on the runner thread
    calls: Optional[queue.SimpleQueue[Optional[_Call]]] = field(default=None, repr=False, compare=False)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def next_due(self, start_delay: float) -> Optional[float]:
        """The clock time of the next scheduled transition or step, or None (done, or model code running)."""
        if self.done:
            return None
        if self.calling:
            due = None  # the next step is scheduled when the model code returns
        else:
            due = self.created + start_delay if self.status == Status.STARTING else self.due
        if self.deadline is not None and (due is None or self.deadline <= due):
            return self.deadline
        return due

    def emit(self, event: str, data: Any) -> None:
        self.events.append((event, data if isinstance(data, str) else json.dumps(data)))

    def transition(
        self, trigger: Trigger, at: float, stamp: Callable[[float], str], error: Optional[str] = None
    ) -> None:
        """Moves along :data:`TRANSITIONS` at clock time ``at``: the one place a status changes.

        Raises:
            RuntimeError: if ``trigger`` is not allowed from the current status.
        """
        target = TRANSITIONS.get((_phase(self.status), trigger))
        if target is None:
            raise RuntimeError(f"a {self.status} prediction cannot {trigger.value}")
        self.status = target
        if target == Status.PROCESSING:
            self.started = at
            self.started_at = stamp(at)
            return
        self.error = error
        self.completed = at
        self.completed_at = stamp(at)
        self.metrics = {
            "predict_time": round(at - (self.started if self.started is not None else at), 6),
            "total_time": round(at - self.created, 6),
        }
        self.items = None
        self.due = None
        if self.calls is not None:
            self.calls.put(None)  # the runner ends
        if error is not None:
            self.emit("error", {"detail": error})
        # as Replicate does: a canceled prediction's stream says why it ended
        self.emit("done", {"reason": "canceled"} if target == Status.CANCELED else "{}")

    def snapshot(self) -> PredictionSnapshot:
        output = list(self.output) if isinstance(self.output, list) else self.output
        return PredictionSnapshot(
            id=self.id,
            model=self.model,
            version=self.version,
            input=dict(self.input),
            status=_status(self.status),
            output=output,
            logs=self.logs,
            error=self.error,
            created=self.created,
            created_at=self.created_at,
            started=self.started,
            started_at=self.started_at,
            completed=self.completed,
            completed_at=self.completed_at,
            metrics=dict(self.metrics) if self.metrics is not None else None,
            deployment=self.deployment,
            deadline=self.deadline,
            events=tuple(self.events),
        )

    def _emit_item(self, item: Any) -> None:
        self.count += 1
        self.output.append(item)
        self.emit("output", item)
        if self.total:
            percent = self.count * 100 // self.total
            bar = ("█" * (percent // 10)).ljust(10)
            line = f"{percent:3d}%|{bar}| {self.count}/{self.total} [00:00<00:00, 50.00it/s]\n"
        else:
            line = f"step {self.count}\n"
        self.logs += line
        self.emit("logs", line.rstrip("\n"))


def _phase(status: str) -> Status:
    """Where ``status`` is in the table: a status a test set with ``update`` that the API does not
    define (say ``warming-up``) counts as still running."""
    try:
        return Status(status)
    except ValueError:
        return Status.PROCESSING


def _status(value: str) -> str:
    """``value`` as a :class:`Status` if it is one."""
    try:
        return Status(value)
    except ValueError:
        return value


def _error_text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class Driver:
    """Moves the predictions of one fake along their schedule on ``clock``.

    Args:
        clock: the fake's clock.
        condition: the fake's lock, notified after every change.
        stamp: clock time -> the API's timestamp.
        timing: () -> (start_delay, step), read at each step so a test may change them.
    """

    def __init__(
        self,
        clock: Clock,
        condition: threading.Condition,
        stamp: Callable[[float], str],
        timing: Callable[[], Tuple[float, float]],
    ) -> None:
        self.clock = clock
        self.condition = condition
        self.stamp = stamp
        self.timing = timing
        self.stopping = False

    def catch_up(self, record: Record, limit: int = 10_000) -> None:
        """Applies what of ``record`` is due by the clock's time now (call without the condition held).

        Model code that is due goes to the prediction's runner thread. With a real clock the
        caller does not wait for it (the prediction stays as it is meanwhile, as a real one
        would, and the runner goes on by itself); with a frozen clock (:class:`ManualClock`)
        model code takes no time, so the caller waits for it and drives the run up to the
        clock's time: the answer is the same whichever thread asks first. ``limit`` bounds the
        model calls one reader drives (an endless generator with ``step=0`` is always due).
        """
        with self.condition:
            while limit > 0:
                if not record.calling:
                    call = self._advance(record)
                    if call is None:
                        return
                    self._submit(record, call)
                    limit -= 1
                if not self.clock.frozen or self.stopping:
                    return
                self.condition.wait()  # real time: the runner notifies when the model code returns

    def cancel(self, record: Record) -> None:
        self.catch_up(record)
        with self.condition:
            if not record.done:
                record.transition(Trigger.CANCEL, self.clock.now(), self.stamp)
                self.condition.notify_all()

    def stop(self, records: List[Record]) -> None:
        """Lets the runner threads end (call with the condition held)."""
        self.stopping = True
        for record in records:
            if record.calls is not None:
                record.calls.put(None)
        self.condition.notify_all()

    def _advance(self, record: Record) -> Optional[_Call]:
        """Applies the step due now if it needs no model code, or returns the model call due (condition held).

        Every step but the last ends in model code (the function's call, or the next pull), so
        one step at a time is all there is to do here.
        """
        at = record.next_due(self.timing()[0])
        if at is None or at > self.clock.now():
            return None
        self.condition.notify_all()  # whatever happens below changes the prediction
        if record.deadline is not None and at == record.deadline:
            record.transition(Trigger.DEADLINE, at, self.stamp)
        elif record.status == Status.STARTING:
            record.transition(Trigger.START, at, self.stamp)
            return _Call(start=True, at=at)
        elif record.single is not _NOTHING:
            record.output = record.single
            record.emit("output", record.single)
            record.transition(Trigger.SUCCEED, at, self.stamp)
        else:
            if record.pending is not _PULL and record.pending is not WAIT:
                record._emit_item(record.pending)
            record.pending = _PULL
            record.due = None
            return _Call(start=False, at=at)
        return None

    def created(self, record: Record) -> None:
        """Starts the runner of a new prediction on a real clock (condition held): a real
        prediction runs whether anyone looks or not, so its runner wakes when a step is due."""
        if not self.clock.frozen:
            self._runner(record)

    def _runner(self, record: Record) -> queue.SimpleQueue[Optional[_Call]]:
        if record.calls is None:
            record.calls = queue.SimpleQueue()
            threading.Thread(
                target=self._run, args=(record, record.calls), name=f"fake-prediction-{record.id}", daemon=True
            ).start()
        return record.calls

    def _submit(self, record: Record, call: _Call) -> None:
        """Hands ``call`` to the prediction's runner thread (condition held)."""
        record.calling = True
        record.due = None  # nothing is scheduled until the model code returns
        self._runner(record).put(call)

    def _run(self, record: Record, calls: queue.SimpleQueue[Optional[_Call]]) -> None:
        """The runner: executes a prediction's model code, one call at a time, and goes on with what
        is due. On a real clock it also sleeps until the next step is due (a reader may wake it sooner)."""
        call: Optional[_Call] = None
        while True:
            timeout: Optional[float] = None
            if call is None:
                with self.condition:
                    if record.done or self.stopping:
                        return
                    # On a frozen clock readers drive the run; the runner only executes their calls.
                    call = None if record.calling or self.clock.frozen else self._advance(record)
                    if call is not None:
                        record.calling = True
                    elif not self.clock.frozen and not record.calling:
                        due = record.next_due(self.timing()[0])
                        timeout = None if due is None else max(0.0, due - self.clock.now())
            if call is None:
                try:
                    call = calls.get(timeout=timeout)
                except queue.Empty:
                    continue
                if call is None:
                    return
            result: Any = _NOTHING
            error: Optional[str] = None
            finished = False
            try:
                if call.start:
                    result = record.function(dict(record.input))
                else:
                    assert record.items is not None
                    result = next(record.items)
            except StopIteration:
                finished = True
            except Exception as exc:  # the model's failure is the prediction's
                error = _error_text(exc)
            with self.condition:
                record.calling = False
                try:
                    if record.done or self.stopping:  # canceled (or updated) while the model ran
                        return
                    self._apply(record, call, result, error, finished)
                    call = None if self.clock.frozen else self._advance(record)  # what is due next, at once
                    if call is not None:
                        record.calling = True
                finally:
                    self.condition.notify_all()

    def _apply(self, record: Record, call: _Call, result: Any, error: Optional[str], finished: bool) -> None:
        _, step = self.timing()
        if error is not None:
            record.transition(Trigger.FAIL, call.at, self.stamp, error)
        elif finished:
            record.transition(Trigger.SUCCEED, call.at, self.stamp)
        elif not call.start:
            record.pending = result
            record.due = call.at + step
        elif isinstance(result, (list, tuple)):
            record.output, record.items, record.total = [], iter(list(result)), len(result)
            record.due = call.at  # pull the first item now
        elif hasattr(result, "__next__"):
            record.output, record.items = [], result
            record.due = call.at
        else:
            record.single = result
            record.due = call.at + step
