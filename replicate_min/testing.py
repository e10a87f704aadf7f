"""A fake Replicate API for your tests, standard library only.

Start it in a test and point a client at it::

    from replicate_min.testing import FakeReplicate

    with FakeReplicate() as fake:
        client = replicate_min.Client(api_token=fake.token, base_url=fake.base_url)
        prediction = client.predictions.create(model="replicate-min/echo", input={"prompt": "hi"})

It speaks HTTP/1.1 on loopback with keep-alive, like the real API: create (by version,
model or deployment), get, list (cursor pages, newest first), cancel, ``Prefer: wait``,
``Cancel-After``, the SSE stream at ``urls.stream``, and the API's error bodies.
Predictions move ``starting`` -> ``processing`` -> a terminal status on a clock, in a
thread each. Built-in models (``add_model`` registers your own):

* ``replicate-min/echo``: outputs ``input["prompt"]`` (or the whole input);
* ``replicate-min/tokens``: streams the words of ``prompt`` one by one, with tqdm logs;
* ``replicate-min/fail``: fails with an error;
* ``replicate-min/forever``: runs until canceled.

``connections`` and ``creates`` count TCP connections and created predictions;
``fail_next`` and ``stream_fault`` inject faults. Nothing in the client imports this module.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

__all__ = ["WAIT", "FakeReplicate", "Request"]

#: Yield this from a model generator to spend one step without output.
WAIT: Any = object()

ModelFunction = Callable[[Dict[str, Any]], Any]

_FAULT_KINDS = ("status", "html", "drop", "drop_after", "hang", "truncated", "not_object", "delay")
_STREAM_FAULT_KINDS = ("drop", "stall", "garbage", "oversized")


def _timestamp(seconds: Optional[float] = None) -> str:
    """RFC 3339 in UTC with microseconds, as the API writes it: now, or at Unix time ``seconds``."""
    moment = datetime.now(timezone.utc) if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _version_id(model: str) -> str:
    return hashlib.sha256(model.encode()).hexdigest()


def _parse_duration(text: str) -> Optional[float]:
    """Seconds in a ``Cancel-After`` value (``90``, ``90s``, ``1h30m``), or None if malformed."""
    import re

    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?|(\d+)", text.strip())
    if not text.strip() or not match:
        return None
    hours, minutes, secs, bare = (int(g or 0) for g in match.groups())
    return float(hours * 3600 + minutes * 60 + secs + bare)


def _echo(input: Dict[str, Any]) -> Any:
    return input.get("prompt", input)


def _tokens(input: Dict[str, Any]) -> List[str]:
    words = str(input.get("prompt", "the quick brown fox jumps over the lazy dog")).split(" ")
    return [words[0]] + [" " + word for word in words[1:]]


def _fail(input: Dict[str, Any]) -> Any:
    raise RuntimeError("the model failed on purpose")


def _forever(input: Dict[str, Any]) -> Iterator[Any]:
    while True:
        yield WAIT


@dataclass
class Request:
    """A request the fake received. Header names are lower-cased."""

    method: str
    path: str
    headers: Dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Fault:
    kind: str
    status: int = 500
    headers: Dict[str, str] = field(default_factory=dict)
    body: Optional[bytes] = None
    seconds: float = 0.0
    times: int = 1
    method: Optional[str] = None
    path: Optional[str] = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (self.path is None or path.startswith(self.path))


@dataclass
class _StreamFault:
    kind: str
    after: int = 0
    seconds: float = 1.0
    size: int = 0
    times: int = 1


@dataclass
class _Prediction:
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
    status: str = "starting"
    output: Any = None
    logs: str = ""
    error: Optional[str] = None
    started_at: Optional[str] = None
    started: Optional[float] = None
    completed_at: Optional[str] = None
    metrics: Optional[Dict[str, Any]] = None
    events: List[Tuple[str, str]] = field(default_factory=list)  # (event, data), id = index + 1

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed", "canceled", "aborted")


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
    ) -> None:
        self.token = token or "r8_fake_" + secrets.token_hex(12)
        self.webhook_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        self.files: Dict[str, Dict[str, Any]] = {}  # id -> the file object, plus "data": bytes
        self.start_delay = start_delay
        self.step = step
        self.page_size = page_size
        self.keepalive_interval = keepalive_interval
        self.connections = 0
        self.creates = 0
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
        self._predictions: Dict[str, _Prediction] = {}
        self._faults: List[_Fault] = []
        self._stream_faults: List[_StreamFault] = []
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._sockets: List[socket.socket] = []
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None
        for name, function in (
            ("replicate-min/echo", _echo),
            ("replicate-min/tokens", _tokens),
            ("replicate-min/fail", _fail),
            ("replicate-min/forever", _forever),
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
        self._models[name] = function
        self._versions[name] = version or _version_id(name)
        return self._versions[name]

    def add_deployment(self, name: str, model: str) -> None:
        """Registers a deployment ``owner/name`` that runs ``model``."""
        self._deployments[name] = model

    def version_of(self, model: str) -> str:
        """The version id of a registered model."""
        return self._versions[model]

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
        """Makes the next ``times`` matching requests fail.

        Kinds: ``status`` (answer ``status`` with ``headers`` and a problem body, or ``body``),
        ``html`` (an HTML error page with ``status``), ``drop`` (close the connection
        without handling the request), ``drop_after`` (handle it, e.g. create the
        prediction, then close without answering), ``hang`` (never answer, until stopped),
        ``truncated`` (a 200 JSON body cut short), ``not_object`` (a 200 JSON array),
        ``delay`` (wait ``seconds``, then answer normally). ``path`` matches a prefix.
        """
        if kind not in _FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(_FAULT_KINDS)}")
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        fault = _Fault(kind, status, dict(headers or {}), body, seconds, times, method, path)
        with self._cond:
            self._faults.append(fault)

    def stream_fault(self, kind: str, *, after: int = 0, seconds: float = 1.0, size: int = 0, times: int = 1) -> None:
        """Breaks the next ``times`` streams after ``after`` events.

        Kinds: ``drop`` (close the connection), ``stall`` (send nothing for ``seconds``),
        ``garbage`` (bytes that are not UTF-8 nor SSE, then close), ``oversized`` (a line of
        ``size`` bytes with no end).
        """
        if kind not in _STREAM_FAULT_KINDS:
            raise ValueError(f"unknown stream fault {kind!r}; known: {', '.join(_STREAM_FAULT_KINDS)}")
        with self._cond:
            self._stream_faults.append(_StreamFault(kind, after, seconds, size, times))

    def sign_webhook(self, body: Any, *, id: Optional[str] = None, timestamp: Optional[int] = None) -> Dict[str, str]:
        """The headers Replicate would send with ``body`` (a prediction dict, or raw bytes/str), signed
        with ``webhook_secret``: for testing your own webhook handler."""
        from ._webhooks import sign

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

    def update(self, prediction_id: str, **fields: Any) -> None:
        """Overwrites fields of a stored prediction (e.g. ``status="aborted"``) for a test."""
        with self._cond:
            record = self._predictions[prediction_id]
            for name, value in fields.items():
                if not hasattr(record, name):
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
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        if self._ssl_context is not None and host == "127.0.0.1":
            host = "localhost"  # the name a test certificate is issued to
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"

    def start(self) -> FakeReplicate:
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer((self._host, self._port), handler)
        self._server.daemon_threads = True
        if self._ssl_context is not None:
            self._server.socket = self._ssl_context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-replicate", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
            sockets = list(self._sockets)
        if self._server is not None:
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

    # -- the model runs -------------------------------------------------------------

    def _sleep(self, record: _Prediction, seconds: float) -> bool:
        """Sleeps; False if the prediction ended meanwhile or the server is stopping."""
        end = time.monotonic() + seconds
        with self._cond:
            while not record.done and not self._stopping.is_set():
                left = end - time.monotonic()
                if record.deadline is not None and time.monotonic() >= record.deadline:
                    self._finish(record, "aborted" if record.status == "starting" else "canceled")
                    return False
                if left <= 0:
                    return True
                self._cond.wait(left if record.deadline is None else min(left, record.deadline - time.monotonic()))
            return False

    def _emit(self, record: _Prediction, event: str, data: str) -> None:
        record.events.append((event, data))
        self._cond.notify_all()

    def _finish(self, record: _Prediction, status: str, error: Optional[str] = None) -> None:
        """Ends a prediction (call with the lock held)."""
        if record.done:
            return
        record.status = status
        record.error = error
        record.completed_at = _timestamp()
        now = time.monotonic()
        record.metrics = {
            "predict_time": round(now - (record.started or now), 6),
            "total_time": round(now - record.created, 6),
        }
        if error is not None:
            self._emit(record, "error", json.dumps({"detail": error}))
        self._emit(record, "done", "{}")

    def _run(self, record: _Prediction) -> None:
        if not self._sleep(record, self.start_delay):
            return
        with self._cond:
            record.status = "processing"
            record.started_at = _timestamp()
            record.started = time.monotonic()
            self._cond.notify_all()
        try:
            result = record.function(dict(record.input))
            if isinstance(result, (list, tuple)):
                self._run_items(record, list(result), len(result))
            elif hasattr(result, "__next__"):
                self._run_items(record, result, None)
            else:
                if not self._sleep(record, self.step):
                    return
                with self._cond:
                    record.output = result
                    if not record.done:
                        self._emit(record, "output", result if isinstance(result, str) else json.dumps(result))
        except Exception as exc:  # the model's failure is the prediction's
            with self._cond:
                self._finish(record, "failed", str(exc) or type(exc).__name__)
            return
        with self._cond:
            self._finish(record, "succeeded")

    def _run_items(self, record: _Prediction, items: Any, total: Optional[int]) -> None:
        with self._cond:
            record.output = []
        count = 0
        for item in items:
            if not self._sleep(record, self.step):
                return
            if item is WAIT:
                continue
            count += 1
            with self._cond:
                if record.done:
                    return
                record.output.append(item)
                self._emit(record, "output", item if isinstance(item, str) else json.dumps(item))
                if total:
                    percent = count * 100 // total
                    bar = ("█" * (percent // 10)).ljust(10)
                    line = f"{percent:3d}%|{bar}| {count}/{total} [00:00<00:00, 50.00it/s]\n"
                else:
                    line = f"step {count}\n"
                record.logs += line
                self._emit(record, "logs", line.rstrip("\n"))

    # -- the API ----------------------------------------------------------------------

    def _json(self, record: _Prediction) -> Dict[str, Any]:
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
            "status": record.status,
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
            deadline = time.time() + record.deadline - time.monotonic()
            data["deadline"] = _timestamp(deadline)
        for name in ("started_at", "completed_at", "metrics"):
            if getattr(record, name) is not None:
                data[name] = getattr(record, name)
        data.update(record.extra)
        return data

    def _create(
        self, target: str, owner_name: Optional[str], body: Any, prefer: Optional[str], cancel_after: Optional[str]
    ) -> Tuple[int, Any, Dict[str, str]]:
        if not isinstance(body, dict):
            return _problem(400, "Invalid request", "The request body must be a JSON object")
        allowed = {"input", "webhook", "webhook_events_filter", "webhook_completed", "stream"}
        if target == "version":
            allowed.add("version")
        unknown = sorted(set(body) - allowed)
        if unknown:
            detail = "".join(f"- Additional property {name} is not allowed\n" for name in unknown)
            return _problem(422, "Input validation failed", detail)
        if not isinstance(body.get("input"), dict):
            return _problem(422, "Input validation failed", "- input: Invalid type. Expected: object\n")
        deployment = None
        version: str
        if target == "version":
            ref = body.get("version")
            model = None
            if isinstance(ref, str):
                name, _, vid = ref.partition(":")
                for known, known_version in self._versions.items():
                    if ref in (known, known_version) or (name == known and vid == known_version):
                        model = known
            if model is None:
                return _problem(
                    422,
                    "Invalid version or not permitted",
                    "The specified version does not exist (or perhaps you don't have permission to use it?)",
                )
            version = self._versions[model]
        elif target == "model":
            model = owner_name
            if model not in self._models:
                return _problem(404, "Not found", f"The model {owner_name} does not exist")
            version = "hidden"
        else:
            deployment = owner_name
            model = self._deployments.get(owner_name or "")
            if model is None:
                return _problem(404, "Not found", f"The deployment {owner_name} does not exist")
            version = self._versions[model]
        hold = None
        if prefer is not None:
            import re

            match = re.fullmatch(r"\s*wait(?:=([1-9]|[1-5][0-9]|60))?\s*", prefer)
            if not match:
                return _problem(400, "Invalid Prefer header", "Prefer must be 'wait' or 'wait=N' with N from 1 to 60")
            hold = float(match.group(1) or 60)
        deadline = None
        if cancel_after is not None:
            seconds = _parse_duration(cancel_after)
            if seconds is None or seconds < 5:
                return _problem(400, "Invalid Cancel-After header", "Cancel-After must be a duration of at least 5s")
            deadline = time.monotonic() + seconds
        extra = {
            key: body[key] for key in ("webhook", "webhook_events_filter", "webhook_completed", "stream") if key in body
        }
        with self._cond:
            self.creates += 1
            record = _Prediction(
                seq=self.creates,
                id=base64.b32encode(secrets.token_bytes(15)).decode().lower().rstrip("="),
                model=model,
                version=version,
                input=body["input"],
                function=self._models[model],
                created_at=_timestamp(),
                created=time.monotonic(),
                deployment=deployment,
                deadline=deadline,
                extra=extra,
            )
            self._predictions[record.id] = record
        threading.Thread(target=self._run, args=(record,), name=f"fake-prediction-{record.id}", daemon=True).start()
        headers: Dict[str, str] = {}
        if hold is not None:
            end = time.monotonic() + hold
            with self._cond:
                while not record.done and not self._stopping.is_set() and time.monotonic() < end:
                    self._cond.wait(end - time.monotonic())
            headers["Preference-Applied"] = prefer.strip() if prefer else "wait"
        with self._cond:
            return 201, self._json(record), headers

    def _list(self, query: str) -> Tuple[int, Any, Dict[str, str]]:
        params = parse_qs(query)
        before = after = None
        cursor = params.get("cursor", [None])[0]
        if cursor:
            try:
                direction, _, seq = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
                if direction not in ("before", "after"):
                    raise ValueError(direction)
                before, after = (int(seq), None) if direction == "before" else (None, int(seq))
            except ValueError:
                return _problem(400, "Invalid cursor", "The cursor is not valid")
        with self._cond:
            records = sorted(self._predictions.values(), key=lambda r: r.seq, reverse=True)
            if before is not None:
                page = [r for r in records if r.seq < before][: self.page_size]
            elif after is not None:
                page = [r for r in records if r.seq > after][-self.page_size :]
            else:
                page = records[: self.page_size]
            older = bool(page) and any(r.seq < page[-1].seq for r in records)
            newer = bool(page) and any(r.seq > page[0].seq for r in records)
            results = [self._json(r) for r in page]

        def link(direction: str, seq: int) -> str:
            token = base64.urlsafe_b64encode(f"{direction}:{seq}".encode()).decode()
            return f"{self.base_url}/v1/predictions?cursor={token}"

        body = {
            "next": link("before", page[-1].seq) if older else None,
            "previous": link("after", page[0].seq) if newer else None,
            "results": results,
        }
        return 200, body, {}

    def _cancel(self, record: _Prediction) -> Tuple[int, Any, Dict[str, str]]:
        with self._cond:
            if not record.done:
                self._finish(record, "canceled")
            return 200, self._json(record), {}

    def _files_route(
        self, method: str, rest: List[str], content_type: str, raw: bytes
    ) -> Tuple[int, Any, Dict[str, str]]:
        if not rest and method == "POST":
            return self._upload(content_type, raw)
        record = self.files.get(rest[0]) if rest else None
        if record is None:
            return _problem(404, "Not found", "File not found")
        if len(rest) == 1 and method == "GET":
            return 200, {k: v for k, v in record.items() if k != "data"}, {}
        if len(rest) == 1 and method == "DELETE":
            del self.files[rest[0]]
            return 204, b"", {}
        if rest[1:] == ["download"] and method == "GET":
            return 200, record["data"], {"Content-Type": record["content_type"]}
        return _problem(405, "Method not allowed", f"{method} is not allowed here")

    def _upload(self, content_type: str, raw: bytes) -> Tuple[int, Any, Dict[str, str]]:
        from email.parser import BytesParser
        from email.policy import HTTP

        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
        if not message.is_multipart():
            return _problem(400, "Invalid request", "The body must be multipart/form-data")
        fields: Dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields[str(name)] = part
        content = fields.get("content")
        if content is None or content.get_filename() is None:
            return _problem(422, "Input validation failed", "- content: a file is required\n")
        data = content.get_payload(decode=True) or b""
        if len(data) > 100 * 1024 * 1024:
            return _problem(413, "Payload too large", "Files must be less than 100MB in size")
        metadata_part = fields.get("metadata")
        metadata = json.loads(metadata_part.get_payload(decode=True) or b"{}") if metadata_part is not None else {}
        file_id = secrets.token_hex(12)
        now = time.time()
        md5 = hashlib.md5(data).hexdigest()
        record = {
            "id": file_id,
            "name": content.get_filename(),
            "content_type": content.get_content_type(),
            "size": len(data),
            "etag": md5,
            "checksums": {"sha256": hashlib.sha256(data).hexdigest(), "md5": md5},
            "metadata": metadata,
            "created_at": _timestamp(now),
            "expires_at": _timestamp(now + 86400),
            "urls": {"get": f"{self.base_url}/v1/files/{file_id}"},
            "data": data,
        }
        with self._cond:
            self.files[file_id] = record
        return 201, {k: v for k, v in record.items() if k != "data"}, {}

    def _take_fault(self, method: str, path: str) -> Optional[_Fault]:
        with self._cond:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _take_stream_fault(self) -> Optional[_StreamFault]:
        with self._cond:
            if not self._stream_faults:
                return None
            fault = self._stream_faults[0]
            fault.times -= 1
            if fault.times <= 0:
                self._stream_faults.pop(0)
            return fault


def _problem(status: int, title: str, detail: str) -> Tuple[int, Any, Dict[str, str]]:
    return status, {"title": title, "detail": detail, "status": status}, {"Content-Type": "application/problem+json"}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeReplicate
    protocol_version = "HTTP/1.1"
    server_version = "FakeReplicate/1"

    def setup(self) -> None:
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.fake._cond:
            self.fake.connections += 1
            self.fake._sockets.append(self.request)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.fake._cond:
                if self.request in self.fake._sockets:
                    self.fake._sockets.remove(self.request)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _send(self, status: int, body: Any, headers: Optional[Dict[str, str]] = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = dict(headers or {})
        headers.setdefault("Content-Type", "application/json")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.request.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _handle(self, method: str) -> None:
        fake = self.fake
        split = urlsplit(self.path)
        path = split.path
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with fake._cond:
            fake.requests.append(Request(method, self.path, {k.lower(): v for k, v in self.headers.items()}, raw))
        fault = fake._take_fault(method, path)
        if fault is not None:
            if fault.kind == "delay":
                time.sleep(fault.seconds)
            elif fault.kind == "drop":
                return self._drop()
            elif fault.kind == "hang":
                fake._stopping.wait(fault.seconds or 60)
                return self._drop()
            elif fault.kind == "status":
                if fault.body is not None:
                    return self._send(fault.status, fault.body, fault.headers)
                status, body, headers = _problem(fault.status, "Injected error", f"Injected status {fault.status}")
                headers.update(fault.headers)
                return self._send(status, body, headers)
            elif fault.kind == "html":
                page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
                return self._send(fault.status, page, {"Content-Type": "text/html"})
        if path.startswith("/v1/streams/"):
            return self._stream(path[len("/v1/streams/") :])
        public = path.startswith("/v1/files/") and path.endswith("/download")  # like replicate.delivery
        if not public and self.headers.get("Authorization") != f"Bearer {fake.token}":
            return self._send(*_problem(401, "Unauthenticated", "You did not pass a valid authentication token"))
        self._raw = raw
        try:
            body = json.loads(raw) if raw and not path.startswith("/v1/files") else None
        except ValueError:
            return self._send(*_problem(400, "Invalid JSON", "The request body is not valid JSON"))
        status, payload, headers = self._route(method, path, split.query, body)
        if fault is not None and fault.kind == "drop_after":
            return self._drop()
        if fault is not None and fault.kind == "truncated":
            data = json.dumps(payload).encode()
            return self._send(200, data[: len(data) // 2])
        if fault is not None and fault.kind == "not_object":
            return self._send(200, [payload])
        self._send(status, payload, headers)

    def _route(self, method: str, path: str, query: str, body: Any) -> Tuple[int, Any, Dict[str, str]]:
        fake = self.fake
        parts = path.strip("/").split("/")
        prefer = self.headers.get("Prefer")
        cancel_after = self.headers.get("Cancel-After")
        if parts == ["v1", "webhooks", "default", "secret"] and method == "GET":
            return 200, {"key": fake.webhook_secret}, {}
        if parts[:2] == ["v1", "files"]:
            return fake._files_route(method, parts[2:], self.headers.get("Content-Type", ""), self._raw)
        if parts == ["v1", "predictions"]:
            if method == "POST":
                return fake._create("version", None, body, prefer, cancel_after)
            if method == "GET":
                return fake._list(query)
        elif (
            len(parts) == 5 and parts[0] == "v1" and parts[1] in ("models", "deployments") and parts[4] == "predictions"
        ):
            if method == "POST":
                target = "model" if parts[1] == "models" else "deployment"
                return fake._create(target, f"{parts[2]}/{parts[3]}", body, prefer, cancel_after)
        elif len(parts) in (3, 4) and parts[:2] == ["v1", "predictions"]:
            record = fake._predictions.get(parts[2])
            if record is None:
                return _problem(404, "Not found", "The requested resource could not be found")
            if len(parts) == 3 and method == "GET":
                with fake._cond:
                    return 200, fake._json(record), {}
            if len(parts) == 4 and parts[3] == "cancel" and method == "POST":
                return fake._cancel(record)
        else:
            return _problem(404, "Not found", "The requested resource could not be found")
        return _problem(405, "Method not allowed", f"{method} is not allowed here")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _stream(self, prediction_id: str) -> None:
        fake = self.fake
        record = fake._predictions.get(prediction_id)
        if record is None:
            return self._send(*_problem(404, "Not found", "The requested stream could not be found"))
        last_id = self.headers.get("Last-Event-ID", "")
        position = 0
        if last_id and fake.honour_last_event_id:
            with fake._cond:
                count = len(record.events)
            position = next((n for n in range(1, count + 1) if fake.event_id_format.format(n) == last_id), 0)
        fault = fake._take_stream_fault()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = 0
        try:
            while True:
                with fake._cond:
                    if position >= len(record.events) and not record.done and not fake._stopping.is_set():
                        fake._cond.wait(fake.keepalive_interval)
                    events = record.events[position:]
                    stopping = fake._stopping.is_set()
                    finished = record.done and not events
                if stopping:
                    return self._drop()
                if finished:  # nothing more will come
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    return
                if not events:
                    self._chunk(b": keep-alive\n\n")
                    continue
                batch: List[bytes] = []  # what is ready goes out in chunks of up to 64 KB
                size = 0
                for event, data in events:
                    if fault is not None and sent >= fault.after:
                        if batch:
                            self._chunk(b"".join(batch))
                        return self._stream_fault(fault)
                    position += 1
                    # SSE has no way to carry a CR: every line break becomes a new data line.
                    if "\r" in data or "\n" in data:
                        breaks = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
                        lines = "".join(f"data: {line}\n" for line in breaks)
                    else:
                        lines = f"data: {data}\n"
                    event_id = fake.event_id_format.format(position)
                    encoded = f"event: {event}\nid: {event_id}\n{lines}\n".encode()
                    batch.append(encoded)
                    size += len(encoded)
                    sent += 1
                    if event == "done":
                        self._chunk(b"".join(batch))
                        self.wfile.write(b"0\r\n\r\n")
                        self.wfile.flush()
                        return
                    if size >= 65536:
                        self._chunk(b"".join(batch))
                        batch, size = [], 0
                if batch:
                    self._chunk(b"".join(batch))
        except OSError:
            self.close_connection = True

    def _stream_fault(self, fault: _StreamFault) -> None:
        if fault.kind == "stall":
            self.fake._stopping.wait(fault.seconds)
        elif fault.kind == "garbage":
            self._chunk(b"\xff\xfe\x00garbage\x00\n\x80\x81\n")
        elif fault.kind == "oversized":
            self._chunk(b"data: " + b"x" * fault.size)
        self._drop()
