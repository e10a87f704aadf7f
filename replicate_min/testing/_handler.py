"""The fake server's HTTP side: one handler per connection (threaded), the API's routes, faults, SSE.

The handler owns no state: it reads and changes the :class:`FakeReplicate` it is bound to
(its records, on its clock). Every wait here is on the fake's clock, never ``time.sleep``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import socket
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, quote, urlsplit

from .._journal import refuse_constant
from ._faults import (
    Delay,
    Drop,
    DropAfter,
    ErrorStatus,
    Hang,
    HangAfter,
    HtmlError,
    NotObject,
    StreamFault,
    StreamGarbage,
    StreamOversized,
    StreamStall,
    Truncated,
)

if TYPE_CHECKING:
    from . import FakeReplicate

__all__ = ["Handler", "Request", "Server"]

Response = Tuple[int, Any, Dict[str, str]]

_HTML_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"


_PROBLEM_TYPE = {"Content-Type": "application/problem+json"}

_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*([Zz]|[+-]\d{2}:?\d{2})?",
    re.ASCII,
)


def _problem(status: int, title: str, detail: str) -> Response:
    return status, {"title": title, "detail": detail, "status": status}, dict(_PROBLEM_TYPE)


def parse_date_time(text: str) -> Optional[float]:
    """Unix seconds of an ISO 8601 date-time (``2025-01-01T00:00:00Z``, with a fraction or an
    offset; no offset is UTC), or None if it is not one."""
    from datetime import datetime, timedelta, timezone

    match = _DATE_TIME.fullmatch(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    tz = timezone.utc
    if offset and offset not in "Zz":
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        tz = timezone(delta if offset[0] == "+" else -delta)
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=tz)
    except ValueError:
        return None
    return moment.timestamp() + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)


def _parse_duration(text: str) -> Optional[float]:
    """Seconds in a ``Cancel-After`` value (``90``, ``90s``, ``1h30m``), or None if malformed."""
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?|(\d+)", text.strip())
    if not text.strip() or not match:
        return None
    hours, minutes, secs, bare = (int(g or 0) for g in match.groups())
    return float(hours * 3600 + minutes * 60 + secs + bare)


class Server(ThreadingHTTPServer):
    """A thread per connection. The listen backlog is deep: a burst of concurrent connections
    (an async benchmark opening hundreds) must not see SYNs dropped and retried a second later."""

    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer (it timed out, or was killed) is a client's right, not
        an error of the fake's: anything else is printed, as ``socketserver`` does."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class Request:
    """A request the fake received. Header names are lower-cased; ``time`` is when it arrived, on the fake's clock."""

    method: str
    path: str
    headers: Dict[str, str]
    body: bytes
    time: float = 0.0

    def json(self) -> Any:
        return json.loads(self.body)


class Handler(BaseHTTPRequestHandler):
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

    # -- plumbing ---------------------------------------------------------------------

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
            arrived = fake.clock.now()
            headers = {k.lower(): v for k, v in self.headers.items()}
            fake.requests.append(Request(method, self.path, headers, raw, arrived))
            fake._cond.notify_all()
        if fake.latency > 0 and not fake._sleep(fake.latency, start=arrived):
            return self._drop()
        fault = fake._take_fault(method, path)
        if isinstance(fault, Delay):
            if not fake._sleep(fault.seconds):
                return self._drop()
        elif isinstance(fault, Drop):
            return self._drop()
        elif isinstance(fault, Hang):
            fake._sleep(fault.seconds or 60)
            return self._drop()
        elif isinstance(fault, ErrorStatus):
            if fault.body is not None:
                return self._send(fault.status, fault.body, dict(fault.headers))
            status, body, extra = _problem(fault.status, "Injected error", f"Injected status {fault.status}")
            extra.update(fault.headers)
            return self._send(status, body, extra)
        elif isinstance(fault, HtmlError):
            return self._send(fault.status, _HTML_PAGE, {"Content-Type": "text/html"})
        if path.startswith("/v1/streams/"):
            return self._stream(path[len("/v1/streams/") :])
        public = path.startswith("/v1/files/") and path.endswith("/download")  # like replicate.delivery
        if not public and self.headers.get("Authorization") != f"Bearer {fake.token}":
            return self._send(*_problem(401, "Unauthenticated", "You did not pass a valid authentication token"))
        rate_headers: Dict[str, str] = {}
        if fake._limiter is not None and not public:
            creating = method == "POST" and (path == "/v1/predictions" or path.endswith("/predictions"))
            with fake._cond:
                allowed, rate_headers, detail = fake._limiter.take("create" if creating else "read", fake.clock.now())
                if not allowed:
                    fake.throttled += 1
            if not allowed:
                return self._send(429, {"detail": detail, "status": 429}, {**rate_headers, **_PROBLEM_TYPE})
        self._raw = raw
        try:
            body = json.loads(raw, parse_constant=refuse_constant) if raw and not path.startswith("/v1/files") else None
        except ValueError:
            return self._send(*_problem(400, "Invalid JSON", "The request body is not valid JSON"))
        status, payload, extra = self._route(method, path, split.query, body)
        extra = {**rate_headers, **extra}
        if isinstance(fault, DropAfter):
            return self._drop()
        if isinstance(fault, HangAfter):
            fake._sleep(fault.seconds or 60)
            return self._drop()
        if isinstance(fault, Truncated):
            data = json.dumps(payload).encode()
            return self._send(200, data[: len(data) // 2])
        if isinstance(fault, NotObject):
            return self._send(200, [payload])
        self._send(status, payload, extra)

    # -- the API ------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: str, body: Any) -> Response:
        fake = self.fake
        parts = path.strip("/").split("/")
        if parts == ["v1", "webhooks", "default", "secret"] and method == "GET":
            return 200, {"key": fake.webhook_secret}, {}
        if parts[:2] == ["v1", "files"]:
            return self._files(method, parts[2:])
        if parts == ["v1", "predictions"]:
            if method == "POST":
                return self._create("version", None, body)
            if method == "GET":
                return self._list(query)
        elif (
            len(parts) == 5 and parts[0] == "v1" and parts[1] in ("models", "deployments") and parts[4] == "predictions"
        ):
            if method == "POST":
                target = "model" if parts[1] == "models" else "deployment"
                return self._create(target, f"{parts[2]}/{parts[3]}", body)
        elif (
            parts[:2] == ["v1", "models"]
            and method == "GET"
            and (len(parts) == 4 or (len(parts) in (5, 6) and parts[4] == "versions"))
        ):
            return self._model(f"{parts[2]}/{parts[3]}", parts[4:])
        elif len(parts) == 4 and parts[:2] == ["v1", "deployments"] and method == "GET":
            return self._deployment(f"{parts[2]}/{parts[3]}")
        elif len(parts) in (3, 4) and parts[:2] == ["v1", "predictions"]:
            with fake._cond:
                record = fake._predictions.get(parts[2])
            if record is None:
                return _problem(404, "Not found", "The requested resource could not be found")
            if len(parts) == 3 and method == "GET":
                fake._catch_up(record)
                with fake._cond:
                    return 200, fake._json(record), {}
            if len(parts) == 4 and parts[3] == "cancel" and method == "POST":
                fake._cancel(record)
                with fake._cond:
                    return 200, fake._json(record), {}
        else:
            return _problem(404, "Not found", "The requested resource could not be found")
        return _problem(405, "Method not allowed", f"{method} is not allowed here")

    def _create(self, target: str, owner_name: Optional[str], body: Any) -> Response:
        fake = self.fake
        prefer = self.headers.get("Prefer")
        cancel_after = self.headers.get("Cancel-After")
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
                for known, known_version in fake._versions.items():
                    if ref in (known, known_version) or (name == known and vid == known_version):
                        model = known
            if model is None:
                return _problem(
                    422,
                    "Invalid version or not permitted",
                    "The specified version does not exist (or perhaps you don't have permission to use it?)",
                )
            version = fake._versions[model]
        elif target == "model":
            model = owner_name
            if model not in fake._models:
                return _problem(404, "Not found", f"The model {owner_name} does not exist")
            version = "hidden"
        else:
            deployment = owner_name
            model = fake._deployments.get(owner_name or "")
            if model is None:
                return _problem(404, "Not found", f"The deployment {owner_name} does not exist")
            version = fake._versions[model]
        hold = None
        if prefer is not None:
            match = re.fullmatch(r"\s*wait(?:=([1-9]|[1-5][0-9]|60))?\s*", prefer)
            if not match:
                return _problem(400, "Invalid Prefer header", "Prefer must be 'wait' or 'wait=N' with N from 1 to 60")
            hold = float(match.group(1) or 60)
        seconds = None
        if cancel_after is not None:
            seconds = _parse_duration(cancel_after)
            if seconds is None or seconds < 5:
                return _problem(400, "Invalid Cancel-After header", "Cancel-After must be a duration of at least 5s")
        extra = {
            key: body[key] for key in ("webhook", "webhook_events_filter", "webhook_completed", "stream") if key in body
        }
        record = fake._new_prediction(
            model=model,
            version=version,
            input=body["input"],
            deployment=deployment,
            cancel_after=seconds,
            extra=extra,
        )
        headers: Dict[str, str] = {}
        if hold is not None:
            fake._hold(record, hold)
            headers["Preference-Applied"] = prefer.strip() if prefer else "wait"
        with fake._cond:
            return 201, fake._json(record), headers

    def _model(self, owner_name: str, rest: List[str]) -> Response:
        """``GET /v1/models/{owner}/{name}``, ``.../versions`` and ``.../versions/{id}``: read-only,
        each model with its one version and an OpenAPI schema of a ``prompt`` input."""
        fake = self.fake
        if owner_name not in fake._models:
            return _problem(404, "Not found", f"The model {owner_name} does not exist")
        owner, name = owner_name.split("/", 1)
        version = {
            "id": fake._versions[owner_name],
            "created_at": fake._stamp(0.0),
            "cog_version": "0.9.0",
            "openapi_schema": {
                "openapi": "3.0.2",
                "info": {"title": "Cog", "version": "0.1.0"},
                "components": {
                    "schemas": {
                        "Input": {
                            "type": "object",
                            "title": "Input",
                            "properties": {"prompt": {"type": "string", "title": "Prompt", "x-order": 0}},
                        },
                        "Output": {"title": "Output"},
                    }
                },
            },
        }
        if rest == ["versions"]:
            return 200, {"next": None, "previous": None, "results": [version]}, {}
        if len(rest) == 2:
            if rest[1].lower() != version["id"]:
                return _problem(404, "Not found", f"The version {rest[1][:80]} of {owner_name} does not exist")
            return 200, version, {}
        body = {
            "url": f"https://replicate.com/{owner_name}",
            "owner": owner,
            "name": name,
            "description": f"{owner_name}, a model of the fake server",
            "visibility": "public",
            "github_url": None,
            "paper_url": None,
            "license_url": None,
            "run_count": 0,
            "cover_image_url": None,
            "default_example": None,
            "latest_version": version,
        }
        return 200, body, {}

    def _deployment(self, owner_name: str) -> Response:
        """``GET /v1/deployments/{owner}/{name}``: the deployment, with its one release."""
        fake = self.fake
        model = fake._deployments.get(owner_name)
        if model is None:
            return _problem(404, "Not found", f"The deployment {owner_name} does not exist")
        owner, name = owner_name.split("/", 1)
        body = {
            "owner": owner,
            "name": name,
            "current_release": {
                "number": 1,
                "model": model,
                "version": fake._versions[model],
                "created_at": fake._stamp(0.0),
                "created_by": {"type": "organization", "username": owner, "name": owner, "github_url": None},
                "configuration": {"hardware": "cpu", "min_instances": 0, "max_instances": 1},
            },
        }
        return 200, body, {}

    def _list(self, query: str) -> Response:
        """``GET /v1/predictions``: newest first, ``page_size`` a page, ``created_after`` (inclusive) and
        ``created_before`` (exclusive) as the OpenAPI document defines them; the links keep the filters."""
        fake = self.fake
        params = parse_qs(query)
        before = after = None
        bounds: Dict[str, float] = {}
        for name in ("created_after", "created_before"):
            values = params.get(name)
            if values:
                moment = parse_date_time(values[0])
                if moment is None:
                    return _problem(400, "Invalid query", f"{name} must be an ISO 8601 date-time, got {values[0]!r}")
                bounds[name] = moment - fake._epoch  # on the fake's clock
        cursor = params.get("cursor", [None])[0]
        if cursor:
            try:
                direction, _, seq = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
                if direction not in ("before", "after"):
                    raise ValueError(direction)
                before, after = (int(seq), None) if direction == "before" else (None, int(seq))
            except ValueError:
                return _problem(400, "Invalid cursor", "The cursor is not valid")
        low, high = bounds.get("created_after"), bounds.get("created_before")
        with fake._cond:
            records = sorted(
                (
                    r
                    for r in fake._predictions.values()
                    if (low is None or r.created >= low - 5e-7) and (high is None or r.created < high - 5e-7)
                ),
                key=lambda r: r.seq,
                reverse=True,
            )
            if before is not None:
                page = [r for r in records if r.seq < before][: fake.page_size]
            elif after is not None:
                page = [r for r in records if r.seq > after][-fake.page_size :]
            else:
                page = records[: fake.page_size]
            older = bool(page) and any(r.seq < page[-1].seq for r in records)
            newer = bool(page) and any(r.seq > page[0].seq for r in records)
        for record in page:
            fake._catch_up(record)
        with fake._cond:
            results = [fake._json(r) for r in page]
        filters = "".join(
            f"&{name}={quote(params[name][0], safe='')}"
            for name in ("created_after", "created_before")
            if name in params
        )

        def link(direction: str, seq: int) -> str:
            token = base64.urlsafe_b64encode(f"{direction}:{seq}".encode()).decode()
            return f"{fake.base_url}/v1/predictions?cursor={token}{filters}"

        body = {
            "next": link("before", page[-1].seq) if older else None,
            "previous": link("after", page[0].seq) if newer else None,
            "results": results,
        }
        return 200, body, {}

    def _files(self, method: str, rest: List[str]) -> Response:
        fake = self.fake
        if not rest and method == "POST":
            return self._upload(self.headers.get("Content-Type", ""), self._raw)
        if not rest and method == "GET":  # newest first, one page (the official client reads only the first)
            with fake._cond:
                files = [{k: v for k, v in record.items() if k != "data"} for record in reversed(fake.files.values())]
            return 200, {"next": None, "previous": None, "results": files}, {}
        with fake._cond:
            record = fake.files.get(rest[0]) if rest else None
        if record is None:
            return _problem(404, "Not found", "File not found")
        if len(rest) == 1 and method == "GET":
            return 200, {k: v for k, v in record.items() if k != "data"}, {}
        if len(rest) == 1 and method == "DELETE":
            with fake._cond:
                fake.files.pop(rest[0], None)
            return 204, b"", {}
        if rest[1:] == ["download"] and method == "GET":
            return 200, record["data"], {"Content-Type": record["content_type"]}
        return _problem(405, "Method not allowed", f"{method} is not allowed here")

    def _upload(self, content_type: str, raw: bytes) -> Response:
        from email.parser import BytesParser
        from email.policy import HTTP

        fake = self.fake
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
        now = fake.clock.now()
        md5 = hashlib.md5(data).hexdigest()
        record = {
            "id": file_id,
            "name": content.get_filename(),
            "content_type": content.get_content_type(),
            "size": len(data),
            "etag": md5,
            "checksums": {"sha256": hashlib.sha256(data).hexdigest(), "md5": md5},
            "metadata": metadata,
            "created_at": fake._stamp(now),
            "expires_at": fake._stamp(now + 86400),
            "urls": {"get": f"{fake.base_url}/v1/files/{file_id}"},
            "data": data,
        }
        with fake._cond:
            fake.files[file_id] = record
        return 201, {k: v for k, v in record.items() if k != "data"}, {}

    # -- the SSE stream -------------------------------------------------------------------

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _stream(self, prediction_id: str) -> None:
        fake = self.fake
        with fake._cond:
            record = fake._predictions.get(prediction_id)
        if record is None:
            return self._send(*_problem(404, "Not found", "The requested stream could not be found"))
        fake._catch_up(record)
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
        last_write = fake.clock.now()
        try:
            while True:
                fake._catch_up(record)
                with fake._cond:
                    events = record.events[position:]
                    stopping = fake._stopping.is_set()
                    finished = record.done and not events
                    now = fake.clock.now()
                    if not (events or stopping or finished):
                        keepalive_at = last_write + fake.keepalive_interval
                        if now < keepalive_at:
                            due = record.next_due(fake.start_delay)
                            if due is None or due > now:  # nothing to do before due (or a change)
                                fake.clock.wait(fake._cond, keepalive_at if due is None else min(due, keepalive_at))
                            continue
                if stopping:
                    return self._drop()
                if finished:  # nothing more will come
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    return
                last_write = now
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

    def _stream_fault(self, fault: StreamFault) -> None:
        if isinstance(fault, StreamStall):
            self.fake._sleep(fault.seconds)
        elif isinstance(fault, StreamGarbage):
            self._chunk(b"\xff\xfe\x00garbage\x00\n\x80\x81\n")
        elif isinstance(fault, StreamOversized):
            self._chunk(b"data: " + b"x" * fault.size)
        self._drop()
