"""A fake Replicate API for your tests, standard library only.

Start it in a test and point a client at it::

    from replicate_min.testing import FakeReplicate

    with FakeReplicate() as fake:
        client = replicate_min.Client(api_token=fake.token, base_url=fake.base_url)
        prediction = client.predictions.create(model="replicate-min/echo", input={"prompt": "hi"})

It speaks HTTP/1.1 on loopback with keep-alive, like the real API: create (by version,
model or deployment), get, list (cursor pages, newest first), cancel, ``Prefer: wait``,
``Cancel-After``, the SSE stream at ``urls.stream``, and the API's error bodies.
Predictions move ``starting`` -> ``processing`` -> a terminal status on a clock (see
``_state.py``): real time by default, or a :class:`ManualClock` that only moves when the test
says, so a test decides exactly when a prediction starts, emits and ends, without sleeping::

    clock = ManualClock()
    with FakeReplicate(clock=clock, start_delay=1, step=0.5) as fake:
        ...  # create a prediction: it is "starting"
        clock.advance(1)  # now "processing"; each further 0.5 s emits one output item

Built-in models (``add_model`` registers your own):

* ``replicate-min/echo``: outputs ``input["prompt"]`` (or the whole input);
* ``replicate-min/tokens``: streams the words of ``prompt`` one by one, with tqdm logs;
* ``replicate-min/fail``: fails with an error;
* ``replicate-min/forever``: runs until canceled.

``connections`` and ``creates`` count TCP connections and created predictions;
``inject`` (or ``fail_next`` and ``stream_fault``) injects faults; ``prediction(id)`` and
``predictions_created`` show what the fake holds. Nothing in the client imports this package.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
import socket
import threading
import time
from datetime import datetime, timezone
from http.server import ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple

from .._journal import canonical_json
from ._clock import Clock, ManualClock, SystemClock
from ._faults import (
    Delay,
    Drop,
    DropAfter,
    ErrorStatus,
    Fault,
    Hang,
    HangAfter,
    HtmlError,
    NotObject,
    RequestFault,
    StreamDrop,
    StreamFault,
    StreamGarbage,
    StreamOversized,
    StreamStall,
    Truncated,
    request_fault,
    stream_fault,
)
from ._handler import Request
from ._limits import Limiter, RateLimit
from ._models import WAIT, ModelFunction, echo, fail, forever, tokens
from ._state import TERMINAL, TRANSITIONS, Driver, PredictionSnapshot, Record, Status, Trigger

__all__ = [
    "TERMINAL",
    "TRANSITIONS",
    "WAIT",
    "Clock",
    "Delay",
    "Drop",
    "DropAfter",
    "ErrorStatus",
    "FakeReplicate",
    "Fault",
    "Hang",
    "HangAfter",
    "HtmlError",
    "ManualClock",
    "ModelFunction",
    "NotObject",
    "PredictionSnapshot",
    "RateLimit",
    "Request",
    "RequestFault",
    "Status",
    "StreamDrop",
    "StreamFault",
    "StreamGarbage",
    "StreamOversized",
    "StreamStall",
    "SystemClock",
    "Trigger",
    "Truncated",
    "echo",
    "fail",
    "forever",
    "input_key",
    "tokens",
]


def input_key(input: Any) -> str:
    """An input as canonical JSON (sorted keys, no spaces), as a batch's journal knows it: the key
    of ``creates_per_input``."""
    return canonical_json(input)


def _timestamp(seconds: float) -> str:
    """RFC 3339 in UTC with microseconds, as the API writes it, at Unix time ``seconds``."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeReplicate:
    """A fake Replicate API server on loopback. Use it as a context manager, or ``start()``/``stop()``.

    Args:
        token: the API token it accepts (a random one by default).
        start_delay: seconds a prediction stays ``starting``.
        step: seconds between a model's outputs (and a single-output model's run time).
        page_size: predictions per page of ``GET /v1/predictions``.
        keepalive_interval: seconds between ``: keep-alive`` comments on an idle stream.
        host, port: where to listen (port 0 picks a free one).
        ssl_context: a server-side ``ssl.SSLContext`` to serve HTTPS instead of HTTP.
        clock: the time the fake runs on: a :class:`SystemClock` (real time) by default, or a
            :class:`ManualClock` for tests that move time themselves. All the seconds above
            (and ``latency``, and injected delays) are on this clock.
        latency: seconds every response is delayed by, each request on its own (the server is
            threaded, so concurrent requests wait at the same time).
        rate_limit: a :class:`RateLimit` to throttle requests with 429 as the API does, and to
            send its ``ratelimit-*`` headers; None (the default) never throttles.
    """

    def __init__(
        self,
        *,
        token: Optional[str] = None,
        start_delay: float = 0.05,
        step: float = 0.02,
        page_size: int = 100,
        keepalive_interval: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: Any = None,
        clock: Optional[Clock] = None,
        latency: float = 0.0,
        rate_limit: Optional[RateLimit] = None,
    ) -> None:
        self.token = token or "r8_fake_" + secrets.token_hex(12)
        self.webhook_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        self.files: Dict[str, Dict[str, Any]] = {}  # id -> the file object, plus "data": bytes
        self.start_delay = start_delay
        self.step = step
        self.page_size = page_size
        self.keepalive_interval = keepalive_interval
        self.latency = latency
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.connections = 0
        self.creates = 0
        #: Requests answered 429 by ``rate_limit``.
        self.throttled = 0
        self._limiter = None if rate_limit is None else Limiter(rate_limit)
        #: How stream event ids look: formatted with the event's number (from 1).
        self.event_id_format = "{}"
        #: False makes streams start over on reconnect, as a server that ignores Last-Event-ID.
        self.honour_last_event_id = True
        self.requests: List[Request] = []
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        self._models: Dict[str, ModelFunction] = {}
        self._versions: Dict[str, str] = {}
        self._deployments: Dict[str, str] = {}
        self._predictions: Dict[str, Record] = {}
        self._faults: List[Tuple[RequestFault, int]] = []  # (fault, times left)
        self._stream_faults: List[Tuple[StreamFault, int]] = []
        # Guards everything above; notified on every change of a prediction and on stop.
        self._cond = threading.Condition()
        # Pure waits on the clock (latency, injected delays) sleep here, away from the state's
        # notifications; notified on stop (and by a ManualClock on advance).
        self._timer = threading.Condition()
        self.clock.attach(self._cond)
        self.clock.attach(self._timer)
        # Wall time at clock time 0: timestamps follow the clock, so a ManualClock's are exact.
        self._epoch = time.time() - self.clock.now()
        self._driver = Driver(self.clock, self._cond, self._stamp, lambda: (self.start_delay, self.step))
        self._stopping = threading.Event()
        self._sockets: List[socket.socket] = []
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        for name, function in (
            ("replicate-min/echo", echo),
            ("replicate-min/tokens", tokens),
            ("replicate-min/fail", fail),
            ("replicate-min/forever", forever),
        ):
            self.add_model(name, function)
        self.add_deployment("replicate-min/echo-deployment", "replicate-min/echo")

    # -- set-up -------------------------------------------------------------------

    def add_model(self, name: str, function: ModelFunction, *, version: Optional[str] = None) -> str:
        """Registers a model ``owner/name`` and returns its version id (``version``, or one made up).

        ``function(input)`` returns the output; a list is emitted item by item (with tqdm
        logs), a generator as it yields (``WAIT`` spends a step), and an exception fails
        the prediction with its message.
        """
        import hashlib

        self._models[name] = function
        self._versions[name] = version or hashlib.sha256(name.encode()).hexdigest()
        return self._versions[name]

    def add_deployment(self, name: str, model: str) -> None:
        """Registers a deployment ``owner/name`` that runs ``model``."""
        self._deployments[name] = model

    def version_of(self, model: str) -> str:
        """The version id of a registered model."""
        return self._versions[model]

    def inject(self, fault: Fault) -> None:
        """Queues a typed fault (a :class:`RequestFault` or a :class:`StreamFault`) for its next ``times`` uses."""
        with self._cond:
            if isinstance(fault, StreamFault):
                self._stream_faults.append((fault, fault.times))
            else:
                self._faults.append((fault, fault.times))

    def fail_next(
        self,
        kind: str = "status",
        *,
        status: int = 500,
        headers: Optional[Dict[str, str]] = None,
        body: Any = None,
        seconds: float = 0.0,
        times: int = 1,
        method: Optional[str] = None,
        path: Optional[str] = None,
    ) -> None:
        """Makes the next ``times`` matching requests fail (``inject`` with a fault named by ``kind``).

        Kinds: ``status`` (answer ``status`` with ``headers`` and a problem body, or ``body``),
        ``html`` (an HTML error page with ``status``), ``drop`` (close the connection
        without handling the request), ``drop_after`` (handle it, e.g. create the
        prediction, then close without answering), ``hang`` (never answer, until stopped),
        ``truncated`` (a 200 JSON body cut short), ``not_object`` (a 200 JSON array),
        ``delay`` (wait ``seconds``, then answer normally). ``path`` matches a prefix.
        """
        fault = request_fault(
            kind,
            status=status,
            headers=headers,
            body=body,
            seconds=seconds,
            times=times,
            method=method,
            path=path,
        )
        self.inject(fault)

    def stream_fault(self, kind: str, *, after: int = 0, seconds: float = 1.0, size: int = 0, times: int = 1) -> None:
        """Breaks the next ``times`` streams after ``after`` events (``inject`` with a fault named by ``kind``).

        Kinds: ``drop`` (close the connection), ``stall`` (send nothing for ``seconds``),
        ``garbage`` (bytes that are not UTF-8 nor SSE, then close), ``oversized`` (a line of
        ``size`` bytes with no end).
        """
        self.inject(stream_fault(kind, after=after, seconds=seconds, size=size, times=times))

    @property
    def pending_faults(self) -> List[Fault]:
        """The injected faults not used up yet, request faults first, each with the ``times`` left."""
        with self._cond:
            faults: List[Fault] = [dataclasses.replace(f, times=n) for f, n in self._faults]
            faults.extend(dataclasses.replace(f, times=n) for f, n in self._stream_faults)
            return faults

    def sign_webhook(self, body: Any, *, id: Optional[str] = None, timestamp: Optional[int] = None) -> Dict[str, str]:
        """The headers Replicate would send with ``body`` (a prediction dict, or raw bytes/str), signed
        with ``webhook_secret``: for testing your own webhook handler."""
        from .._webhooks import sign

        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        message_id = id or "msg_" + secrets.token_hex(12)
        stamp = int(time.time()) if timestamp is None else timestamp
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign(id=message_id, timestamp=stamp, body=data, secret=self.webhook_secret),
        }

    def reset_connections(self) -> None:
        """Closes every open connection from the server's side, as a server restart or an idle timeout would."""
        with self._cond:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- what the fake holds --------------------------------------------------------

    def prediction(self, prediction_id: str) -> PredictionSnapshot:
        """A snapshot of a prediction as of the clock's time now.

        Raises:
            KeyError: if there is no such prediction.
        """
        with self._cond:
            record = self._predictions[prediction_id]
        self._catch_up(record)
        with self._cond:
            return record.snapshot()

    @property
    def predictions_created(self) -> List[PredictionSnapshot]:
        """Snapshots of every prediction created so far, oldest first."""
        with self._cond:
            records = sorted(self._predictions.values(), key=lambda r: r.seq)
        for record in records:
            self._catch_up(record)
        with self._cond:
            return [record.snapshot() for record in records]

    @property
    def creates_per_input(self) -> Dict[str, int]:
        """How many predictions were created with each input, keyed by the input as canonical
        JSON (:func:`input_key`): a test asserts "one prediction per row" with it."""
        with self._cond:
            counts: Dict[str, int] = {}
            for record in self._predictions.values():
                key = input_key(record.input)
                counts[key] = counts.get(key, 0) + 1
            return counts

    def cancel(self, prediction_id: str) -> PredictionSnapshot:
        """Cancels a prediction as ``POST /v1/predictions/{id}/cancel`` would (no-op once it has ended)."""
        with self._cond:
            record = self._predictions[prediction_id]
        self._cancel(record)
        with self._cond:
            return record.snapshot()

    def update(self, prediction_id: str, **fields: Any) -> None:
        """Overwrites fields of a stored prediction (e.g. ``status="aborted"``) for a test.

        This bypasses the transition table on purpose: a test can put a prediction in any state.
        """
        with self._cond:
            record = self._predictions[prediction_id]
        self._catch_up(record)
        with self._cond:
            for name, value in fields.items():
                if name.startswith("_") or not hasattr(record, name):
                    raise AttributeError(f"fake predictions have no field {name!r}")
                setattr(record, name, value)
            self._cond.notify_all()

    @property
    def open_connections(self) -> int:
        """TCP connections open now (``connections`` counts every one ever accepted)."""
        with self._cond:
            return len(self._sockets)

    # -- life cycle ---------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake server is not started")
        address, port = self._server.server_address[:2]
        host = address.decode() if isinstance(address, (bytes, bytearray)) else str(address)
        if self._ssl_context is not None and host == "127.0.0.1":
            host = "localhost"  # the name a test certificate is issued to
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"

    def start(self) -> FakeReplicate:
        from ._handler import Handler, Server

        handler = type("_BoundHandler", (Handler,), {"fake": self})
        self._server = Server((self._host, self._port), handler)
        if self._ssl_context is not None:
            self._server.socket = self._ssl_context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-replicate", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._timer:
            self._timer.notify_all()
        with self._cond:
            self._driver.stop(list(self._predictions.values()))
            sockets = list(self._sockets)
        if self._server is not None:
            try:  # wakes the accept loop now, instead of at its next poll
                self._server.socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._server.shutdown()
            self._server.server_close()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeReplicate:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- the state, on the clock (used by the handler) --------------------------------

    def _stamp(self, clock_time: float) -> str:
        return _timestamp(self._epoch + clock_time)

    def _catch_up(self, record: Record) -> None:
        """Applies what is due of ``record`` by the clock's time (call without ``_cond`` held)."""
        self._driver.catch_up(record)

    def _sleep(self, seconds: float, start: Optional[float] = None) -> bool:
        """Waits ``seconds`` of the clock from ``start`` (default now); False if the fake stopped meanwhile."""
        with self._timer:
            end = (self.clock.now() if start is None else start) + seconds
            while not self._stopping.is_set():
                if self.clock.now() >= end:
                    return True
                self.clock.wait(self._timer, end)
            return False

    def _new_prediction(self, **fields: Any) -> Record:
        with self._cond:
            self.creates += 1
            now = self.clock.now()
            deadline = fields.pop("cancel_after", None)
            record = Record(
                seq=self.creates,
                id=base64.b32encode(secrets.token_bytes(15)).decode().lower().rstrip("="),
                function=self._models[fields["model"]],
                created_at=self._stamp(now),
                created=now,
                deadline=None if deadline is None else now + deadline,
                **fields,
            )
            self._predictions[record.id] = record
            self._driver.created(record)
            self._cond.notify_all()
            return record

    def _hold(self, record: Record, seconds: float) -> None:
        """``Prefer: wait``: returns when ``record`` is done, or ``seconds`` after its creation on the clock."""
        end = record.created + seconds
        while True:
            self._catch_up(record)
            with self._cond:
                now = self.clock.now()
                if record.done or self._stopping.is_set() or now >= end:
                    return
                due = record.next_due(self.start_delay)
                if due is None or due > now:
                    self.clock.wait(self._cond, end if due is None else min(due, end))

    def _cancel(self, record: Record) -> None:
        self._driver.cancel(record)

    def _json(self, record: Record) -> Dict[str, Any]:
        """The API's body for ``record`` (call with ``_cond`` held)."""
        base = self.base_url
        data: Dict[str, Any] = {
            "id": record.id,
            "model": record.model,
            "version": record.version,
            "input": record.input,
            "logs": record.logs,
            "output": record.output,
            "data_removed": False,
            "error": record.error,
            "status": str(record.status.value if isinstance(record.status, Status) else record.status),
            "created_at": record.created_at,
            "source": "api",
            "urls": {
                "cancel": f"{base}/v1/predictions/{record.id}/cancel",
                "get": f"{base}/v1/predictions/{record.id}",
                "stream": f"{base}/v1/streams/{record.id}",
                "web": f"{base}/p/{record.id}",
            },
        }
        if record.deployment:
            data["deployment"] = record.deployment
        if record.deadline is not None:
            data["deadline"] = self._stamp(record.deadline)
        for name in ("started_at", "completed_at", "metrics"):
            if getattr(record, name) is not None:
                data[name] = getattr(record, name)
        data.update(record.extra)
        return data

    def _take_fault(self, method: str, path: str) -> Optional[RequestFault]:
        with self._cond:
            for index, (fault, left) in enumerate(self._faults):
                if fault.matches(method, path):
                    if left <= 1:
                        del self._faults[index]
                    else:
                        self._faults[index] = (fault, left - 1)
                    return fault
        return None

    def _take_stream_fault(self) -> Optional[StreamFault]:
        with self._cond:
            if not self._stream_faults:
                return None
            fault, left = self._stream_faults[0]
            if left <= 1:
                self._stream_faults.pop(0)
            else:
                self._stream_faults[0] = (fault, left - 1)
            return fault
