"""Batches: one model over many inputs, at most one prediction per row, every row one result.

``Client.batch(ref, inputs, journal=...)`` returns a :class:`Batch`, an iterator of
:class:`BatchResult` in completion order. What it promises, and how:

* **At most one prediction per row**, even if the process is killed at any moment: the
  journal (``_journal``) commits a row as ``sending`` before its create is sent and its
  prediction id as soon as the answer arrives. A row left ``sending`` (killed, or a create
  whose answer was lost) is looked for among the account's predictions (``created_after``
  its send time minus ``DEFAULT_BATCH_LOOKBACK``, same model or version, the same input)
  before it is created again (looked for at once, created again only after ``settle``); each
  prediction found is claimed by one row only.
* **No lost row**: every row's result is yielded once; a result counts as delivered when the
  caller asks for the next one (or closes the batch), and a resumed batch yields the rest.
* **Rate limits are waited out**: every request is paced by the ``ratelimit-remaining`` and
  ``ratelimit-reset`` headers of the answers before it; a 429 pauses its kind of request for
  its ``Retry-After`` (else the body's hint, else ``ratelimit-reset``) and halves the
  predictions in flight, which grow back by one per clean answer. A 429 never fails a row.
* **Few requests**: creates hold (``Prefer: wait``), so most predictions come back finished;
  the rest are followed with one ``predictions.list`` sweep per round when that takes fewer
  requests than one ``GET`` each.
* **Bounded memory**: rows are read as they are needed and results handed out as they end.

Threads as the rest of the library: ``concurrency`` create threads, one follower, one reader
of the inputs. Sync only (a batch is a long job, not a call to await).
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Deque, Dict, Iterable, List, Optional, Set, Tuple, Union

from ._create import CreateRequest
from ._defaults import DEFAULT_MAX_RETRY_AFTER, MAX_JSON_DEPTH
from ._exceptions import APIConnectionError, BatchError, ReplicateError, ValidationError, excerpt, nests_deeper
from ._journal import Journal, Row, input_hash
from ._prediction import Prediction, is_terminal
from ._requester import Requester, decode_json, encode_json, error_from_response
from ._retry import RetryPolicy, parse_retry_after
from ._urls import path_segment

__all__ = ["Batch", "BatchResult", "BatchStats", "Gate", "Pacer", "parse_shard", "poll_delay", "settle_for"]

#: A batch paces and retries by itself: the transport makes one attempt per call.
_ONE_ATTEMPT = RetryPolicy(max_retries=0)
_MIN_RETRIES = 3  # a batch tries a connection failure or a 5xx at least this often, whatever the client's max_retries
#: Statuses that fail the whole batch (every row would fail the same way).
_FATAL = frozenset({401, 402, 403, 404})
_THROTTLE_HINT = re.compile(r"available in ~?(\d{1,5}(?:\.\d+)?)\s*s", re.IGNORECASE)
_PAGE = 100  # predictions per list page, until a sweep shows otherwise
_MAX_PAGES = 1000  # a listing longer than this is a server looping its cursors
_MAX_POLL = 30.0  # seconds between two looks at a long prediction, at most
_MIN_PAUSE = 0.5  # seconds a 429 pauses at least, whatever its Retry-After says (0 would hammer)
_MAX_SETTLE = 150.0  # (well inside DEFAULT_BATCH_LOOKBACK, which the search looks back)


@dataclass(frozen=True)
class BatchResult:
    """One row's outcome. ``id`` is None for a row the API refused (``error`` says why)."""

    row: int
    id: Optional[str]
    status: str
    output: Any = None
    error: Optional[str] = None
    metrics: Optional[Dict[str, Any]] = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    def to_dict(self) -> Dict[str, Any]:
        """The results-file line: ``row``, ``id``, ``status``, ``output``, ``error``, ``metrics``."""
        return {
            "row": self.row,
            "id": self.id,
            "status": self.status,
            "output": self.output,
            "error": self.error,
            "metrics": self.metrics,
        }

    @classmethod
    def of(cls, row: int, prediction: Prediction) -> BatchResult:
        error = prediction.error
        return cls(
            row,
            prediction.id,
            str(prediction.status),
            prediction.output,
            None if error is None else str(error),
            prediction.metrics,
        )


@dataclass
class BatchStats:
    """Live counters of a running batch (read them from any thread, e.g. for a progress line)."""

    #: Rows whose result was handed out by this run; ``failed`` of them did not succeed.
    done: int = 0
    failed: int = 0
    #: Rows skipped because an earlier run delivered them.
    skipped: int = 0
    #: Predictions created, and found again by reconciliation, by this run.
    created: int = 0
    reconciled: int = 0
    requests: int = 0
    #: Answers with 429, and the seconds requests were paused for them.
    throttled: int = 0
    throttle_wait: float = 0.0
    started: float = field(default_factory=time.monotonic)
    in_flight: int = 0


def parse_shard(shard: Union[str, Tuple[int, int], None]) -> Tuple[int, int]:
    """``"K/N"`` or ``(K, N)`` as ``(K, N)`` with ``0 <= K < N``; None is ``(0, 1)``, every row.

    Raises:
        ValueError: anything else (the message shows the value).
    """
    if shard is None:
        return 0, 1
    parts: Any = shard
    if isinstance(shard, str):
        match = re.fullmatch(r"\s*(\d{1,9})\s*/\s*(\d{1,9})\s*", shard)
        parts = (int(match.group(1)), int(match.group(2))) if match else None
    if (
        isinstance(parts, tuple)
        and len(parts) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) for n in parts)
        and 0 <= parts[0] < parts[1]
    ):
        return parts[0], parts[1]
    raise ValueError(f"shard must be 'K/N' (or (K, N)) with 0 <= K < N, such as '0/4', got {excerpt(shard)}")


def _header_number(headers: Any, name: str) -> Optional[float]:
    text = headers.get(name)
    try:
        value = float(text) if text is not None and len(text) < 32 else None
    except ValueError:
        return None
    return value if value is not None and 0 <= value < 1e9 else None


class Pacer:
    """When the next request of one kind (creates, or the rest) may go, from the API's answers.

    Pure arithmetic on the times it is given, under a lock: ``reserve(now)`` books the next
    turn and says how long to wait for it; ``observe`` reads each answer's rate headers.

    The steady rate is the one the headers show: the most ``ratelimit-remaining`` seen (plus
    one) per the longest ``ratelimit-reset`` seen, 2% slower so that a clock a little off never
    tips the window over. Until a success has shown it, a burst of 429s shows it: the requests
    sent before the pause less those throttled is what the window let through.
    """

    def __init__(self, max_wait: float = DEFAULT_MAX_RETRY_AFTER) -> None:
        self._lock = threading.Lock()
        self._next = 0.0  # the earliest time of the next turn
        self._paused_until = 0.0
        self._pause_began = -math.inf
        self._spacing = 0.0
        self._window = 0.0
        self._allowed = 0.0  # 0: no success has shown the limit yet
        self._pauses = 0  # pauses started so far: the tickets booked before one are void
        self._sent = 0  # since the last pause ended
        self._throttled = 0
        self.max_wait = max_wait

    def reserve(self, now: float) -> Tuple[float, int]:
        """Books the next turn for a request about to be sent: (seconds to wait for it, a ticket).
        A pause that starts while the caller waits voids its ticket (see ``go``)."""
        with self._lock:
            at = max(now, self._next, self._paused_until)
            self._next = at + self._spacing
            return at - now, self._pauses

    def go(self, ticket: int, now: float) -> bool:
        """True if the request whose turn has come may go (it is counted as sent); False if a 429
        or an empty window paused this kind of request since ``ticket`` was booked: book again."""
        with self._lock:
            if ticket != self._pauses:
                return False
            if now >= self._paused_until > 0 and self._throttled:
                self._sent = self._throttled = 0  # a new window: count afresh
            self._sent += 1
            return True

    def observe(self, status: int, headers: Any, body: bytes, now: float, sent: Optional[float] = None) -> float:
        """Reads an answer's rate headers; returns the pause a 429 causes. ``sent`` is when the
        request went (default ``now``): the window's count and reset are as of its arrival, which
        a held create answers seconds later, while ``Retry-After`` counts from the answer."""
        with self._lock:
            remaining = _header_number(headers, "ratelimit-remaining")
            reset = _header_number(headers, "ratelimit-reset")
            if status == 429:
                wait = parse_retry_after(headers.get("retry-after"), body, time.time())
                if wait is None:
                    hint = _THROTTLE_HINT.search(body[:4096].decode("utf-8", "replace"))
                    wait = float(hint.group(1)) if hint else reset
                wait = min(max(wait if wait is not None else 1.0, _MIN_PAUSE), self.max_wait)
                if sent is None or sent >= self._pause_began:  # (one sent before the pause says nothing new)
                    self._pause(now + wait, now)
                self._throttled += 1
                if not self._allowed:
                    window = max(self._window, reset or 0.0, wait)
                    self._spacing = min(window / max(self._sent - self._throttled, 1) * 1.02, self.max_wait)
                return wait
            if remaining is not None and reset is not None:
                reset = min(reset, self.max_wait)  # a lying header pauses no longer than a Retry-After may
                self._window = max(self._window, reset)
                self._allowed = max(self._allowed, remaining + 1)
                self._spacing = min(self._window / self._allowed * 1.02, self.max_wait)
                if remaining < 1:  # (a reset of 0 with nothing left still waits a little)
                    self._pause((now if sent is None else sent) + max(reset, _MIN_PAUSE / 2), now)
            return 0.0

    def _pause(self, until: float, now: float) -> None:
        if until > self._paused_until:
            self._paused_until = until
            self._pause_began = now
            self._pauses += 1
            self._next = until  # the turns booked before are void: their places are free


class Gate:
    """Predictions in flight: at most ``limit``, cut by a tenth on a 429 (once per ``cool_down``
    seconds) and grown by one per clean answer, up to ``maximum``. (The pacer keeps the rate;
    the gate keeps a throttled batch from queueing more than the API lets through. A deeper
    cut stalls the creates until as many predictions have finished.)"""

    def __init__(self, maximum: int, cool_down: float = 1.0) -> None:
        self.maximum = maximum
        self.limit = maximum
        self.in_use = 0
        self._cool_down = cool_down
        self._last_cut = -math.inf
        self._cond = threading.Condition(threading.Lock())

    def acquire(self, stop: threading.Event) -> bool:
        with self._cond:
            while self.in_use >= self.limit:
                if stop.is_set():
                    return False
                self._cond.wait(0.25)
            if stop.is_set():
                return False
            self.in_use += 1
            return True

    def release(self) -> None:
        with self._cond:
            self.in_use -= 1
            self._cond.notify()

    def throttled(self, now: float) -> None:
        with self._cond:
            if now - self._last_cut >= self._cool_down:
                self._last_cut = now
                self.limit = max(1, self.limit - max(self.limit // 10, 1))

    def clean(self) -> None:
        with self._cond:
            if self.limit < self.maximum:
                self.limit += 1
                self._cond.notify()


def _iso(seconds: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(max(seconds, 0.0), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def poll_delay(followed_for: float, tick: float) -> float:
    """Seconds until a prediction still running is looked at again, when it has been followed for
    ``followed_for`` seconds: a quarter of that (so its requests grow with the log of its run time,
    and its end is seen at most a quarter late), at least ``tick`` (``poll_interval``), at most 30 s."""
    return min(max(tick, followed_for / 4), _MAX_POLL)


def settle_for(outstanding: float, settle: float) -> float:
    """Seconds a create whose answer was lost, after ``outstanding`` seconds, is left before it is
    looked for: twice that (a server that slow to answer may be as slow to record it), at least
    ``settle``, at most ``_MAX_SETTLE``. (The API takes no idempotency key: a create it records
    later still is a duplicate, which no client can rule out.)"""
    return min(max(settle, 2 * outstanding), _MAX_SETTLE)


class _Follow:
    __slots__ = ("due", "gated", "index", "sent_at", "seq", "since")

    def __init__(self, index: int, sent_at: Optional[float], seq: int, gated: bool, due: float = 0.0) -> None:
        self.index = index
        self.sent_at = sent_at
        self.seq = seq  # creates made by this run when it was made (0: an earlier run's)
        self.gated = gated
        self.since = time.monotonic()  # when following began
        self.due = due  # when it is looked at next (monotonic; 0: at once)


class _Lost:
    """A row whose create may have reached the API: looked for at ``look_at`` and claimed if found;
    created again only if not found at ``final_at`` or later (monotonic times)."""

    __slots__ = ("digest", "final_at", "index", "input", "look_at", "sent_at")

    def __init__(
        self, index: int, input: Dict[str, Any], digest: str, sent_at: float, look_at: float, final_at: float
    ) -> None:
        self.index = index
        self.input = input
        self.digest = digest
        self.sent_at = sent_at
        self.look_at = look_at
        self.final_at = final_at


_END = object()


class Batch:
    """An iterator of :class:`BatchResult`, one per row, in completion order. Made by ``Client.batch``.

    Use it in a ``with`` block or ``close()`` it: that stops creating (predictions in flight
    keep running unless ``cancel_on_exit``; a resume follows them). A result is delivered (not
    yielded again by a resume) once the next one is asked for, or the batch is closed.

    Raises (from iteration):
        BatchError: a row is not a JSON object, or its input differs from the journal's.
        JournalMismatchError: the journal is another batch's.
        ReplicateError: the API refused the whole batch (401, 402, 403, 404 on a create).
        APIConnectionError: the API stayed unreachable through the retries.
    """

    def __init__(
        self,
        requester: Requester,
        template: CreateRequest,
        inputs: Iterable[Dict[str, Any]],
        *,
        journal: Union[str, os.PathLike[str], Journal, None],
        concurrency: int,
        shard: Tuple[int, int],
        cancel_on_exit: bool,
        lookback: float,
        settle: float,
    ) -> None:
        self._requester = requester
        self._settle = settle
        self._template = template
        self._inputs = inputs
        self._own_journal = not isinstance(journal, Journal)
        if not isinstance(journal, (str, os.PathLike, Journal, type(None))):
            raise TypeError(f"journal must be a file path, a Journal or None, got {excerpt(journal)}")
        self.journal = journal if isinstance(journal, Journal) else Journal(os.fspath(journal or ":memory:"))
        self._shard = shard
        self._cancel_on_exit = cancel_on_exit
        self._lookback = lookback
        self.stats = BatchStats()
        self._creates = Pacer()
        self._reads = Pacer()
        self._gate = Gate(concurrency)
        self._stop = threading.Event()
        self._lock = threading.Condition(threading.Lock())
        self._work: Deque[Tuple[int, Dict[str, Any], str]] = deque()
        self._uncertain: List[_Lost] = []
        self._follow: Dict[str, _Follow] = {}
        self._sending: List[str] = []  # input digests of the creates awaiting their answer
        self._creating = 0  # rows taken by a creator and not yet done with (answered, lost or given up)
        self._server_errors: Dict[int, Tuple[int, str]] = {}  # row: (5xx answers to its creates, the last)
        self._results: Deque[Any] = deque()
        self._outstanding = 0  # rows read and not yet ended
        self._undelivered = 0  # rows read and not yet handed to the caller: at most _cap
        self._cap = 2 * concurrency + 64
        self._fed = False
        self._started = False
        self._closed = False
        self._last: Optional[BatchResult] = None
        self._threads: List[threading.Thread] = []
        self._concurrency = concurrency
        target = (
            f"version {template.version}"
            if template.version is not None
            else f"model {template.model}"
            if template.model is not None
            else f"deployment {template.deployment}"
        )
        self._target = target
        try:
            self.journal.claim("target", target)
            self.journal.claim("shard", f"shard {shard[0]}/{shard[1]}")
        except BaseException:
            if self._own_journal:
                self.journal.close()
            raise

    # -- the caller's side ---------------------------------------------------------------

    def __repr__(self) -> str:
        return f"<Batch {self._target}, shard {self._shard[0]}/{self._shard[1]}, {self.stats.done} done>"

    def __iter__(self) -> Batch:
        return self

    def __next__(self) -> BatchResult:
        if self._closed:
            raise StopIteration
        if not self._started:
            self._start()
        self._deliver_last()
        with self._lock:
            while not self._results:
                if self._closed:  # closed from another thread while this one waited
                    raise StopIteration
                self._lock.wait(0.5)
            item = self._results.popleft()
            if isinstance(item, BatchResult):
                self._undelivered -= 1
            self._lock.notify_all()
        if item is _END:
            self.close()
            raise StopIteration
        if isinstance(item, BaseException):
            self.close()
            raise item
        result: BatchResult = item
        self._last = result
        return result

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self, cancel: Optional[bool] = None) -> None:
        """Stops the batch: no more creates; ``cancel`` (default: ``cancel_on_exit``) also cancels
        the predictions it is following, first waiting for the creates still awaiting their answer
        (held by ``wait``; at most their connect and read timeouts) so that what they made is
        canceled too. The journal stays consistent: a resume carries on."""
        if self._closed:
            return
        self._closed = True
        cancel = self._cancel_on_exit if cancel is None else cancel
        try:
            self._deliver_last()
            self._stop.set()
            with self._lock:
                self._lock.notify_all()
                if cancel and threading.current_thread() not in self._threads:
                    # A create still awaiting its answer has made a prediction too: its id comes with
                    # the answer, within the create's own timeouts. (The rest stop at once.)
                    self._lock.wait_for(lambda: self._creating == 0, self._longest_create())
                following = list(self._follow)
            if cancel:
                for prediction_id in following:
                    try:
                        self._requester.send(
                            "POST", f"/v1/predictions/{path_segment(prediction_id)}/cancel", retry=_ONE_ATTEMPT
                        )
                    except Exception:  # best effort: the prediction may have ended meanwhile
                        pass
        finally:  # (a Ctrl-C while it waits still lets the journal go)
            if self._own_journal:
                self.journal.close()

    def _longest_create(self) -> Optional[float]:
        """Seconds one create may still take to be answered: its connect and read timeouts (the
        read grown to cover the hold), or None if they are unbounded."""
        settings = self._requester.settings
        read = self._template.read_timeout(settings.read_timeout)
        return None if read is None or settings.connect_timeout is None else settings.connect_timeout + read

    def _deliver_last(self) -> None:
        last, self._last = self._last, None
        if last is not None:
            self.journal.delivered(last.row)

    # -- set-up -------------------------------------------------------------------------

    def _start(self) -> None:
        self._started = True
        for target, name in ((self._feed, "batch-reader"), (self._follower, "batch-follower")):
            self._spawn(target, name)
        for number in range(self._concurrency):
            self._spawn(self._creator, f"batch-create-{number}")

    def _spawn(self, target: Any, name: str) -> None:
        def guarded() -> None:
            try:
                target()
            except BaseException as exc:  # handed to the caller, never lost
                self._fail(exc)

        thread = threading.Thread(target=guarded, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            if not self._stop.is_set():
                self._stop.set()
                self._results.appendleft(exc)
            self._lock.notify_all()

    # -- requests -----------------------------------------------------------------------

    def _send(
        self,
        pacer: Pacer,
        method: str,
        path: str,
        *,
        content: Optional[bytes] = None,
        headers: Optional[Dict[str, str]] = None,
        read_timeout: Any = None,
    ) -> Any:
        """One paced attempt; returns the response (whatever its status) or None if stopped first."""
        while True:
            delay, ticket = pacer.reserve(time.monotonic())
            if delay > 0 and self._stop.wait(delay):
                return None
            if pacer.go(ticket, time.monotonic()):
                break
        extra: Dict[str, Any] = {} if read_timeout is None else {"read_timeout": read_timeout}
        sent = time.monotonic()
        response = self._requester.send(
            method,
            path,
            content=content,
            headers=headers,
            idempotent=method == "GET",
            retry=_ONE_ATTEMPT,
            **extra,
        )
        with self._lock:
            self.stats.requests += 1
        wait = pacer.observe(response.status, response.headers, response.body, time.monotonic(), sent)
        if response.status == 429:
            self._gate.throttled(time.monotonic())
            with self._lock:
                self.stats.throttled += 1
                self.stats.throttle_wait += wait
        return response

    def _retries(self) -> RetryPolicy:
        """The batch's own retries of connection failures and 5xx: the client's ``max_retries``
        and ``retry_backoff``, but at least ``_MIN_RETRIES`` tries (a long batch rides out blips)."""
        settings = self._requester.settings
        return RetryPolicy(max_retries=max(settings.max_retries, _MIN_RETRIES), backoff=settings.retry_backoff)

    def _get_json(self, path: str) -> Any:
        """A GET that must succeed: 429s waited out, failures retried with backoff (the client's
        ``max_retries``, at least 3). Returns None if the batch stopped."""
        retries = self._retries()
        attempt = 0
        while True:
            try:
                response = self._send(self._reads, "GET", path)
                if response is None:
                    return None
                if response.status == 429:
                    continue
                if response.status < 500:
                    return decode_json(response.status, response.body, response.url)
                error: BaseException = error_from_response(response.status, response.body)
            except APIConnectionError as exc:
                error = exc
            attempt += 1
            if attempt > retries.max_retries:
                raise error
            if self._stop.wait(retries.backoff_delay(attempt)):
                return None

    # -- reconciliation -----------------------------------------------------------------

    def _matches(self, prediction: Prediction) -> bool:
        template = self._template
        if template.version is not None:
            return bool(prediction.version == template.version)
        if template.model is not None:
            return bool(prediction.model == template.model)
        deployment = getattr(prediction, "deployment", None)
        if deployment is None:
            deployment = (prediction.extra or {}).get("deployment") if hasattr(prediction, "extra") else None
        return bool(deployment == template.deployment)

    def _reconcile(self, rows: List[Row]) -> Tuple[List[Tuple[Row, Prediction]], List[Row]]:
        """Finds the predictions ``rows`` (left ``sending``) may have created: listed since the
        earliest send time minus the lookback, same target, same input, none the journal knows;
        each claimed by one row. Returns (matched, unmatched)."""
        wanted: Dict[str, List[Row]] = {}
        for row in rows:
            wanted.setdefault(row.input_hash, []).append(row)
        since = min(row.sent_at or 0.0 for row in rows) - self._lookback
        path: Optional[str] = f"/v1/predictions?created_after={_iso(since)}"
        matched: List[Tuple[Row, Prediction]] = []
        followed: Set[str] = set()
        while path is not None and any(wanted.values()):
            if path in followed or len(followed) >= _MAX_PAGES:
                raise ValidationError(
                    f"the predictions list did not end after {len(followed)} pages: refusing to guess which rows"
                    " were created (a server that loops its cursors?)"
                )
            followed.add(path)
            page = self._get_json(path)
            if page is None:
                break
            results = page.get("results") if isinstance(page, dict) else None
            for data in results if isinstance(results, list) else []:
                try:
                    prediction = Prediction.from_json(data, self._requester)
                    digest = input_hash(prediction.input)
                except (ReplicateError, ValueError, TypeError, RecursionError):
                    continue
                waiting = wanted.get(digest)
                if not waiting or not self._matches(prediction) or self.journal.holder_input(prediction.id) is not None:
                    continue
                if any(prediction.id == found.id for _, found in matched):
                    continue
                matched.append((waiting.pop(0), prediction))
            next_page = page.get("next") if isinstance(page, dict) else None
            path = next_page if isinstance(next_page, str) and next_page else None
        with self._lock:
            self.stats.reconciled += len(matched)
        unmatched = [row for group in wanted.values() for row in group]
        return matched, unmatched

    # -- the reader ---------------------------------------------------------------------

    def _feed(self) -> None:
        k, n = self._shard
        journal = self.journal
        for index, input in enumerate(self._inputs):
            if self._stop.is_set():
                return
            if index % n != k:
                continue
            if not isinstance(input, dict):
                raise BatchError(f"row {index}: an input must be a JSON object (a dict), got {excerpt(input)}")
            try:
                digest = input_hash(input)
            except (TypeError, ValueError, RecursionError) as exc:
                raise BatchError(f"row {index}: the input is not plain JSON ({exc})") from None
            if nests_deeper(input, MAX_JSON_DEPTH):  # its prediction could not be read back
                raise BatchError(f"row {index}: the input nests deeper than {MAX_JSON_DEPTH} levels")
            row = journal.row(index)
            if row is not None and row.input_hash and row.input_hash != digest:
                raise BatchError(
                    f"row {index}'s input is not the one the journal {journal.path} recorded for it: the journal is"
                    " another input's (use another journal file)"
                )
            if row is not None and row.delivered:
                with self._lock:
                    self.stats.skipped += 1
                continue
            with self._lock:
                while self._undelivered >= self._cap and not self._stop.is_set():
                    self._lock.wait(0.25)  # (a slow reader of the results holds the creates back too)
                if self._stop.is_set():
                    return
                self._outstanding += 1
                self._undelivered += 1
                if row is not None and row.state == "created" and row.prediction_id:
                    self._follow[row.prediction_id] = _Follow(index, row.sent_at, 0, gated=False)
                elif row is not None and row.state == "sending":  # (an earlier run's: killed, or its answer lost)
                    # looked for at once; created again only once a create still on its way would have landed
                    now, sent_at = time.monotonic(), row.sent_at or 0.0
                    final_at = now + max(0.0, sent_at + self._settle - time.time())
                    self._uncertain.append(_Lost(index, input, digest, sent_at, now, final_at))
                elif row is not None and row.state == "failed":
                    self._finish_locked(BatchResult(index, None, "failed", error=row.error))
                else:
                    self._work.append((index, input, digest))
                self._lock.notify_all()
        with self._lock:
            self._fed = True
            self._check_end_locked()

    # -- creates ------------------------------------------------------------------------

    def _finish_locked(self, result: BatchResult) -> None:
        self._results.append(result)
        self._outstanding -= 1
        self.stats.done += 1
        if not result.succeeded:
            self.stats.failed += 1
        self._check_end_locked()
        self._lock.notify_all()

    def _finish(self, result: BatchResult) -> None:
        with self._lock:
            self._finish_locked(result)

    def _check_end_locked(self) -> None:
        if self._fed and self._outstanding == 0 and not self._stop.is_set():
            self._results.append(_END)
            self._stop.set()
            self._lock.notify_all()

    def _take_work(self) -> Optional[Tuple[int, Dict[str, Any], str]]:
        with self._lock:
            while not self._work:
                if self._stop.is_set():
                    return None
                self._lock.wait(0.25)
            if self._stop.is_set():
                return None
            self._creating += 1  # counted under the lock that gave it: close() sees every row taken
            return self._work.popleft()

    def _creator(self) -> None:
        while True:
            item = self._take_work()
            if item is None:
                return
            try:
                self._create(*item)
            finally:
                with self._lock:
                    self._creating -= 1
                    self._lock.notify_all()

    def _create(self, index: int, input: Dict[str, Any], digest: str) -> None:
        try:
            request = replace(self._template, input=input)
            content = encode_json(request.body(input), f"row {index}'s input")
        except (TypeError, ValueError) as exc:
            self.journal.failed(index, digest, str(exc))
            self._finish(BatchResult(index, None, "failed", error=str(exc)))
            return
        headers = {"Content-Type": "application/json", **request.headers}
        read_timeout = request.read_timeout(self._requester.settings.read_timeout)
        retries = self._retries()
        attempt = 0
        while True:
            if not self._gate.acquire(self._stop):
                return
            sent_at = time.time()
            self.journal.sending(index, digest, sent_at)
            with self._lock:
                self._sending.append(digest)
            try:
                response = self._send(
                    self._creates, "POST", request.path, content=content, headers=headers, read_timeout=read_timeout
                )
            except APIConnectionError as exc:
                self._unsending(digest)
                self._gate.release()
                if exc.sent:  # it may have been created: look for it before creating again
                    self._lost(index, input, digest, sent_at)
                    return
                self.journal.forget(index)
                attempt += 1
                if attempt > retries.max_retries:
                    raise
                if self._stop.wait(retries.backoff_delay(attempt)):
                    return
                continue
            self._unsending(digest)
            if response is None:  # stopped while waiting for its turn: nothing was sent
                self._gate.release()
                self.journal.forget(index)
                return
            status = response.status
            if status == 429:
                self._gate.release()
                self.journal.forget(index)
                continue
            if status >= 500:  # it may have run before failing: look for it
                self._gate.release()
                error = error_from_response(status, response.body)
                with self._lock:
                    count = self._server_errors.get(index, (0, ""))[0] + 1
                    self._server_errors[index] = (count, f"{status} {error.detail or error.title or ''}".strip())
                self._lost(index, input, digest, sent_at)
                return
            if status >= 300:
                self._gate.release()
                error = error_from_response(status, response.body)
                if status in _FATAL:
                    self.journal.forget(index)
                    raise error
                message = error.detail or error.title or str(error)
                self.journal.failed(index, digest, message)
                self._finish(BatchResult(index, None, "failed", error=message))
                return
            try:
                prediction = Prediction.from_json(decode_json(status, response.body, response.url), self._requester)
            except ReplicateError:
                self._gate.release()
                self._lost(index, input, digest, sent_at)
                return
            self._created(index, input, digest, prediction, sent_at)
            return

    def _lost(self, index: int, input: Dict[str, Any], digest: str, sent_at: float) -> None:
        """A create that may have reached the API, its answer lost: looked for once it has settled.
        (The time it was held, ``Prefer: wait``, is the API's by design, not a sign of slowness.)"""
        outstanding = time.time() - sent_at - (self._template.hold or 0)
        now = time.monotonic()
        final_at = now + settle_for(max(outstanding, 0.0), self._settle)
        with self._lock:  # looked for at once (its prediction may have ended long ago), created again at final_at
            self._uncertain.append(_Lost(index, input, digest, sent_at, now, final_at))

    def _unsending(self, digest: str) -> None:
        with self._lock:
            self._sending.remove(digest)

    def _created(self, index: int, input: Dict[str, Any], digest: str, prediction: Prediction, sent_at: float) -> None:
        if not self.journal.created(index, prediction.id):
            if self.journal.holder_input(prediction.id) == digest:
                # a twin row (the same input) whose answer was lost found this prediction first and
                # claimed it: a valid result for that row. This row's is then the twin's lost create,
                # if it was made: looked for like any lost create.
                self._gate.release()
                self._lost(index, input, digest, sent_at)
                return
            raise ValidationError(
                f"the API answered row {index}'s create with prediction {prediction.id!r}, which another row"
                " already holds: refusing to give two rows one prediction",
                field="id",
                value=prediction.id,
            )
        self._gate.clean()
        with self._lock:
            self.stats.created += 1
            if is_terminal(str(prediction.status)):
                self._gate.release()
                self._finish_locked(BatchResult.of(index, prediction))
            else:
                due = time.monotonic() + self._requester.settings.poll_interval
                self._follow[prediction.id] = _Follow(index, sent_at, self.stats.created, gated=True, due=due)
            self.stats.in_flight = self._gate.in_use

    # -- following ----------------------------------------------------------------------

    def _follower(self) -> None:
        tick = max(self._requester.settings.poll_interval, 0.05)
        while not self._stop.wait(tick):
            self._settle_uncertain()
            now = time.monotonic()
            with self._lock:
                due = {key: item for key, item in self._follow.items() if item.due <= now}
                self.stats.in_flight = self._gate.in_use
            if not due:
                continue
            oldest = min(item.seq for item in due.values())
            if oldest:  # made by this run: the listing since holds at least the creates made since
                pages = math.ceil((self.stats.created - oldest + 1) / _PAGE)
            else:  # an earlier run's: the journal counts the rows sent since (the listing's lookback too)
                since = min(item.sent_at or 0.0 for item in due.values()) - self._lookback
                pages = math.ceil((self.journal.count_sent_since(since) + 1) / _PAGE)
            if len(due) > pages:
                self._sweep(due)
            else:
                for prediction_id in due:
                    if self._stop.is_set():
                        return
                    data = self._get_json(f"/v1/predictions/{path_segment(prediction_id)}")
                    if isinstance(data, dict):
                        self._followed(prediction_id, data)
            now = time.monotonic()
            for item in due.values():  # (those that ended are no longer followed)
                item.due = now + poll_delay(now - item.since, tick)

    def _followed(self, prediction_id: str, data: Dict[str, Any]) -> bool:
        """Hands on a followed prediction that has ended; True if it had."""
        try:
            prediction = Prediction.from_json(data, self._requester)
        except ReplicateError:
            return False
        if prediction.id != prediction_id or not is_terminal(str(prediction.status)):
            return False
        with self._lock:
            item = self._follow.pop(prediction_id, None)
            if item is None:
                return False
            if item.gated:
                self._gate.release()
            self._finish_locked(BatchResult.of(item.index, prediction))
        return True

    def _sweep(self, following: Dict[str, _Follow]) -> None:
        """One ``predictions.list`` pass, newest first, until each of ``following`` was seen (any
        other followed prediction seen ended on the way is handed on too)."""
        since = min(item.sent_at or 0.0 for item in following.values()) - self._lookback
        path: Optional[str] = f"/v1/predictions?created_after={_iso(since)}"
        unseen = set(following)
        followed: Set[str] = set()
        while path is not None and unseen and not self._stop.is_set():
            if path in followed or len(followed) >= _MAX_PAGES:
                return  # a looping listing: the rest are followed by GET
            followed.add(path)
            page = self._get_json(path)
            results = page.get("results") if isinstance(page, dict) else None
            for data in results if isinstance(results, list) else []:
                ident = data.get("id") if isinstance(data, dict) else None
                if isinstance(ident, str) and ident in self._follow:
                    unseen.discard(ident)
                    if data.get("status") == "succeeded" and "output" not in data:
                        continue  # a listing without outputs: a GET fetches it next round
                    self._followed(ident, data)
            next_page = page.get("next") if isinstance(page, dict) else None
            path = next_page if isinstance(next_page, str) and next_page else None

    def _settle_uncertain(self) -> None:
        """Rows whose create may have reached the API, once settled (``_lost``): claimed if found, else made again."""
        now = time.monotonic()
        with self._lock:
            in_flight = set(self._sending)  # a twin with the same input being created: its prediction is not this row's
            ready = [lost for lost in self._uncertain if lost.look_at <= now and lost.digest not in in_flight]
            for lost in ready:
                self._uncertain.remove(lost)
        if not ready:
            return
        rows = [Row(lost.index, lost.digest, "sending", lost.sent_at, None, None, False) for lost in ready]
        matched, _ = self._reconcile(rows)
        found = {row.index: prediction for row, prediction in matched}
        limit = self._retries().max_retries
        for lost in ready:
            index, digest = lost.index, lost.digest
            prediction = found.get(index)
            errors, last = self._server_errors.get(index, (0, ""))
            if prediction is None and now < lost.final_at:  # not yet: a create on its way may still land
                lost.look_at = lost.final_at
                with self._lock:
                    self._uncertain.append(lost)
            elif prediction is None and errors > limit:  # none of them made a prediction: the row fails
                message = f"the API answered {errors} creates of this row with an error, the last: {last}"
                self.journal.failed(index, digest, message)
                self._finish(BatchResult(index, None, "failed", error=message))
            elif prediction is None:
                self.journal.forget(index)
                with self._lock:
                    self._work.appendleft((index, lost.input, digest))
                    self._lock.notify_all()
            elif not self.journal.created(index, prediction.id):
                raise ValidationError(f"prediction {prediction.id!r} was claimed twice", field="id")
            else:
                with self._lock:
                    if is_terminal(str(prediction.status)):
                        self._finish_locked(BatchResult.of(index, prediction))
                    else:
                        self._follow[prediction.id] = _Follow(index, lost.sent_at, self.stats.created, gated=False)


def batch(requester: Requester, ref: Any, inputs: Iterable[Dict[str, Any]], **options: Any) -> Batch:
    """Checks the arguments and makes the :class:`Batch`. ``options`` are ``Client.batch``'s
    keywords, all of them (its signature holds their types and defaults, named once)."""
    from ._create import parse_ref

    deployment, journal, concurrency, lookback, settle = (
        options[k] for k in ("deployment", "journal", "concurrency", "lookback", "settle")
    )

    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= 1024:
        raise ValueError(f"concurrency must be a whole number from 1 to 1024, got {excerpt(concurrency)}")
    for name, value, most in (("lookback", lookback, 86400.0), ("settle", settle, _MAX_SETTLE)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= most:
            raise ValueError(f"{name} must be seconds from 0 to {most:g}, got {excerpt(value)}")
    if (ref is None) == (deployment is None):
        raise TypeError("batch() takes a model reference or deployment=..., exactly one")
    target = {"deployment": deployment} if deployment is not None else parse_ref(ref)
    template = CreateRequest(
        version=target.get("version"),
        model=target.get("model"),
        deployment=target.get("deployment"),
        wait=options["wait"],
        cancel_after=options["cancel_after"],
    )
    if template.hold is None:
        raise ValueError("a batch holds its creates: wait must be True or seconds from 1 to 60")
    if not isinstance(options["cancel_on_exit"], bool):
        raise TypeError(f"cancel_on_exit must be True or False, got {excerpt(options['cancel_on_exit'])}")
    try:
        if isinstance(inputs, (str, bytes, dict)):
            raise TypeError
        rows = iter(inputs)
    except (TypeError, ValueError):  # not iterable, or a closed file
        raise TypeError(f"inputs must be an iterable of input dicts (one per row), got {excerpt(inputs)}") from None
    return Batch(
        requester,
        template,
        rows,
        journal=journal,
        concurrency=concurrency,
        shard=parse_shard(options["shard"]),
        cancel_on_exit=options["cancel_on_exit"],
        lookback=float(lookback),
        settle=float(settle),
    )
