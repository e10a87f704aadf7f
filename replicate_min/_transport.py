"""HTTP for replicate_min: the only module that imports urllib, http.client, socket and ssl.

How it works. Requests go through a ``urllib.request.OpenerDirector`` built by hand
from five handlers, so that urllib's proxy support (``HTTPS_PROXY``, ``NO_PROXY``)
and redirect handling stay in play:

* ``ProxyHandler``: the environment's proxies, or the one the caller named;
* ``_KeepAliveHandler``: opens ``http:`` and ``https:`` requests on pooled
  ``http.client`` connections instead of urllib's one-connection-per-request;
* ``_RedirectHandler``: urllib's redirects, minus ``Authorization`` on a change of origin;
* ``HTTPErrorProcessor`` + ``_ErrorResponses``: 4xx/5xx come back as responses, not exceptions.

A connection returns to its pool once its response has been read to the end; a
response closed early takes its connection down with it. ``Transport.send`` adds
the retry policy (see ``Transport.send``) and translates every standard-library error
into an ``APIConnectionError``/``APITimeoutError`` raised ``from`` the cause.
"""

from __future__ import annotations

import http.client
import select
import socket
import time
import urllib.error
import urllib.request
import weakref
from _thread import allocate_lock  # threading would cost an import: this is its Lock

from . import _log
from ._exceptions import APIConnectionError, APITimeoutError, ReplicateException
from ._urls import origin_of

TYPE_CHECKING = False  # typing costs milliseconds to import: only type checkers read it
if TYPE_CHECKING:
    from typing import Any, Callable, Optional, Protocol, Tuple, Union

    _Connection = Union["_HTTPConnection", "_HTTPSConnection"]
    _PoolKey = Tuple[bool, str, Optional[str]]

    class Headers(Protocol):
        """Response headers: ``get(name)`` ignores case (an ``http.client.HTTPMessage``)."""

        def get(self, __name: str) -> Optional[str]: ...


__all__ = ["Response", "StreamResponse", "Transport"]

#: Statuses a request that is safe to repeat is retried on (429 is retried for every request).
RETRY_STATUSES = frozenset({500, 502, 503, 504})
#: The longest a ``Retry-After`` (header or body) is honoured for, in seconds.
MAX_RETRY_AFTER = 60.0
#: Idle connections kept per origin.
MAX_IDLE_PER_ORIGIN = 16


class Response:
    """A complete HTTP response; ``headers.get(name)`` ignores the name's case."""

    __slots__ = ("body", "headers", "status", "url")

    def __init__(self, status: int, headers: Headers, body: bytes, url: str) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url


class _NotSent(Exception):
    """A connection could not be opened: nothing of the request reached the server."""

    def __init__(self, cause: OSError) -> None:
        self.cause = cause
        super().__init__(str(cause))


class _PooledResponse(http.client.HTTPResponse):
    """An ``HTTPResponse`` that hands its connection back when its body has been read."""

    release: Optional[Callable[[bool], None]] = None
    reusable = True
    sock: Any = None
    code: int
    url: str

    def close(self) -> None:
        if self.fp is not None:  # closed before the end of the body: the connection is spent
            self.reusable = False
        super().close()

    def _close_conn(self) -> None:
        super()._close_conn()  # type: ignore[misc]
        release, self.release = self.release, None
        if release is not None:
            release(self.reusable and not self.will_close)


class _HTTPConnection(http.client.HTTPConnection):
    response_class = _PooledResponse


class _HTTPSConnection(http.client.HTTPSConnection):
    response_class = _PooledResponse


class _Pool:
    """Idle connections per (https, host, tunnel host). Thread-safe."""

    def __init__(self) -> None:
        self._idle: dict[_PoolKey, list[_Connection]] = {}
        self._lock = allocate_lock()
        self.closed = False

    def take(self, key: _PoolKey, *, check: bool) -> Optional[_Connection]:
        """An idle connection, or None. ``check`` first asks the socket whether the server
        closed it meanwhile (a request that may be resent finds out by failing instead)."""
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                conn = idle.pop()
            if conn.sock is not None and (not check or _is_usable(conn)):
                return conn
            conn.close()

    def give(self, key: _PoolKey, conn: _Connection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if not self.closed and len(idle) < MAX_IDLE_PER_ORIGIN:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self.closed = True
            conns = [conn for idle in self._idle.values() for conn in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()


def _is_usable(conn: _Connection) -> bool:
    """False when the server closed an idle connection (its socket reads as ready: EOF)."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        if hasattr(select, "poll"):  # no FD_SETSIZE limit
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return not poller.poll(0)
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


class _KeepAliveHandler(urllib.request.AbstractHTTPHandler):
    """Opens ``http:``/``https:`` requests on pooled keep-alive connections."""

    def __init__(self, pool: _Pool, connect_timeout: Optional[float], ssl_context: Any) -> None:
        super().__init__()
        self._pool = pool
        self._connect_timeout = connect_timeout
        self._ssl_context = ssl_context

    http_request = urllib.request.AbstractHTTPHandler.do_request_
    https_request = urllib.request.AbstractHTTPHandler.do_request_

    def http_open(self, req: urllib.request.Request) -> _PooledResponse:
        return self._open(req, https=False)

    def https_open(self, req: urllib.request.Request) -> _PooledResponse:
        return self._open(req, https=True)

    def _ssl(self) -> Any:
        if self._ssl_context is None:
            import ssl

            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _connect(self, key: _PoolKey, tunnel_headers: dict[str, str]) -> _Connection:
        https, host, tunnel = key
        conn: _Connection
        if https:
            conn = _HTTPSConnection(host, timeout=self._connect_timeout, context=self._ssl())
        else:
            conn = _HTTPConnection(host, timeout=self._connect_timeout)
        if tunnel:
            conn.set_tunnel(tunnel, headers=tunnel_headers)
        try:
            conn.connect()
        except OSError as exc:
            conn.close()
            raise _NotSent(exc) from exc
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _open(self, req: urllib.request.Request, *, https: bool) -> _PooledResponse:
        if not req.host:
            raise urllib.error.URLError("no host given")
        # urllib's do_open: unredirected headers win; names back in Title-Case.
        headers = {name.title(): value for name, value in (*req.headers.items(), *req.unredirected_hdrs.items())}
        key: _PoolKey = (https, req.host, req._tunnel_host or None)  # type: ignore[attr-defined]
        # Proxy credentials are for the proxy's CONNECT, never for the origin inside the tunnel.
        tunnel_headers = {}
        if key[2] and "Proxy-Authorization" in headers:
            tunnel_headers["Proxy-Authorization"] = headers.pop("Proxy-Authorization")
        resend_on_stale = getattr(req, "resend_on_stale", False)
        while True:
            conn = self._pool.take(key, check=not resend_on_stale)
            reused = conn is not None
            if conn is None:
                conn = self._connect(key, tunnel_headers)
            if conn.sock.gettimeout() != req.timeout:  # settimeout costs system calls
                conn.sock.settimeout(req.timeout)
            try:
                conn.request(req.get_method(), req.selector, req.data, headers)
                response = conn.getresponse()
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
                conn.close()
                # A reused connection the server closed meanwhile: the request never ran,
                # but only a request that is safe to repeat is sent again to be sure.
                if reused and resend_on_stale:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            break
        assert isinstance(response, _PooledResponse)
        response.release = lambda reusable: self._release(key, conn, reusable)
        response.sock = conn.sock
        response.url = req.get_full_url()
        response.msg = response.reason  # type: ignore[assignment]  # what urllib's do_open does
        response.code = response.status
        return response

    def _release(self, key: _PoolKey, conn: _Connection, reusable: bool) -> None:
        if reusable and conn.sock is not None:
            self._pool.give(key, conn)
        else:
            conn.close()


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """urllib's redirects, without forwarding ``Authorization`` to another origin."""

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> Optional[urllib.request.Request]:
        if code in (307, 308) and req.get_method() not in ("GET", "HEAD"):
            return None  # urllib would raise; the response goes back as an error instead
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            if origin_of(newurl) != origin_of(req.full_url):
                new.remove_header("Authorization")
            new.resend_on_stale = getattr(req, "resend_on_stale", False)  # type: ignore[attr-defined]
        return new


class _ErrorResponses(urllib.request.BaseHandler):
    """Returns 4xx/5xx responses to the caller instead of raising ``HTTPError``."""

    handler_order = 1000

    def http_error_default(self, req: Any, fp: Any, code: int, msg: str, hdrs: Any) -> Any:
        return fp


class StreamResponse:
    """An open response whose body is read incrementally. Close it when done."""

    def __init__(self, response: _PooledResponse) -> None:
        self._response = response
        self.status: int = response.status
        self.headers: Headers = response.headers
        self.url: str = response.url

    def read1(self, size: int = 65536) -> bytes:
        """The bytes that have arrived, at most ``size``; ``b""`` at the end of the body."""
        try:
            return self._response.read1(size)
        except (socket.timeout, TimeoutError) as exc:
            raise APITimeoutError(f"no data from {self.url} within the read timeout") from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise APIConnectionError(f"the stream from {self.url} broke: {exc!r}") from exc

    def read(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            chunk = self.read1()
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def close(self) -> None:
        self._response.close()

    def abort(self) -> None:
        """Breaks the connection from any thread, waking a ``read1`` blocked on it."""
        sock = self._response.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Transport:
    """Sends requests with pooled connections, timeouts, retries and error translation.

    Safe to share between threads. ``urllib.request`` and friends are imported when
    the module is; the client imports this module on its first request.
    """

    def __init__(
        self,
        *,
        connect_timeout: Optional[float],
        read_timeout: Optional[float],
        ssl_context: Any = None,
        proxy: Optional[str] = None,
        max_retries: int = 3,
        retry_backoff: float = 0.5,
    ) -> None:
        self.read_timeout = read_timeout
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self._pool = _Pool()
        # A client dropped without close() is freed by the cycle collector (it and its
        # namespaces refer to each other), which may finalize the pooled sockets in any
        # order. A weakref callback runs before any finalizer, so the sockets close cleanly.
        weakref.finalize(self, self._pool.close)
        proxies = None if proxy is None else {"http": proxy, "https": proxy}
        opener = urllib.request.OpenerDirector()
        opener.addheaders = []  # never urllib's "Python-urllib" User-Agent
        for handler in (
            urllib.request.ProxyHandler(proxies),
            _KeepAliveHandler(self._pool, connect_timeout, ssl_context),
            _RedirectHandler(),
            urllib.request.HTTPErrorProcessor(),
            _ErrorResponses(),
        ):
            opener.add_handler(handler)
        self._opener = opener

    def close(self) -> None:
        """Closes the idle pooled connections."""
        self._pool.close()

    def send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: Optional[bytes] = None,
        *,
        resend_safe: bool,
        read_timeout: Optional[float] = None,
        stream: bool = False,
    ) -> Any:
        """Sends a request and returns a ``Response`` (or a ``StreamResponse`` with ``stream``).

        The retry policy: every request is retried on 429 (a throttled request did
        nothing), after ``Retry-After`` or the body's ``retry_after`` (capped), and when
        the connection was refused, reset or timed out while opening (nothing was sent;
        a DNS or TLS certificate failure is not retried). A ``resend_safe`` request
        (GET, cancel) is also retried on 500, 502, 503, 504 and on connection failures.
        A request that is not (create) is never repeated once it may have reached the
        server, so a retry can never create a duplicate prediction. Other delays are
        exponential backoff from ``retry_backoff`` with jitter; at most ``max_retries``.

        Raises:
            APIConnectionError: no usable answer; ``.sent`` tells whether the request left.
            APITimeoutError: connecting or reading timed out.
        """
        timeout = self.read_timeout if read_timeout is None else read_timeout
        attempt = 0
        while True:
            delay: Optional[float] = None
            try:
                result = self._send_once(method, url, headers, body, timeout, resend_safe, stream)
            except APIConnectionError as exc:
                if exc.sent:
                    retryable = resend_safe
                else:  # refused, reset or timed out while connecting: worth another try; DNS or TLS: not
                    retryable = isinstance(exc.__cause__, (ConnectionError, socket.timeout, TimeoutError))
                if attempt >= self.max_retries or not retryable:
                    raise
                _log.debug("retrying %s %s after %s", method, url, exc)
            else:
                status = result.status
                if status == 429 or (resend_safe and status in RETRY_STATUSES):
                    if attempt >= self.max_retries:
                        return result
                    delay = _retry_after(result.headers, result.body if not stream else b"")
                    if stream:
                        result.close()
                    _log.debug("retrying %s %s after status %d", method, url, status)
                else:
                    return result
            if delay is None:
                import random

                delay = self.retry_backoff * (2**attempt) * random.uniform(0.5, 1.0)
            time.sleep(delay)
            attempt += 1

    def _send_once(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: Optional[bytes],
        timeout: Optional[float],
        resend_safe: bool,
        stream: bool,
    ) -> Any:
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        request.resend_on_stale = resend_safe  # type: ignore[attr-defined]
        _log.debug("request %s %s", method, url)
        try:
            response = self._opener.open(request, timeout=timeout)
            if stream:
                result: Any = StreamResponse(response)
            else:
                try:
                    data = response.read()
                finally:
                    response.close()
                result = Response(response.status, response.headers, data, url)
        except _NotSent as exc:
            raise _translate(exc.cause, method, url, sent=False) from exc.cause
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise _translate(exc, method, url, sent=True) from exc
        _log.debug("response %s %s: %d", method, url, result.status)
        return result


def _translate(exc: BaseException, method: str, url: str, *, sent: bool) -> ReplicateException:
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return APITimeoutError(f"{method} {url} timed out", sent=sent)
    if not sent:
        return APIConnectionError(f"could not connect for {method} {url}: {exc}", sent=False)
    if isinstance(exc, http.client.IncompleteRead):
        return APIConnectionError(f"{method} {url}: the response body was cut short", sent=True)
    if isinstance(exc, http.client.HTTPException) and not isinstance(exc, ConnectionError):
        return APIConnectionError(f"{method} {url}: the server did not answer in HTTP ({exc!r})", sent=True)
    return APIConnectionError(f"{method} {url} failed: {exc!r}", sent=True)


def _retry_after(headers: Headers, body: bytes) -> Optional[float]:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP-date) or a body's ``retry_after``."""
    value = headers.get("retry-after")
    seconds: Optional[float] = None
    if value:
        try:
            seconds = float(value)
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError, IndexError):
                seconds = None
    if seconds is None and body:
        import json

        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if isinstance(payload, dict) and isinstance(payload.get("retry_after"), (int, float)):
            seconds = float(payload["retry_after"])
    if seconds is None or seconds != seconds:  # absent, or NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
