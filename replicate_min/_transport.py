"""HTTP for replicate_min: the only module that imports urllib, http.client, socket and ssl.

How it works. Requests go through a ``urllib.request.OpenerDirector`` built by hand
from five handlers, so that urllib's proxy support (``HTTPS_PROXY``, ``NO_PROXY``)
and redirect handling stay in play:

* ``ProxyHandler``: the environment's proxies, or the one the caller named;
* ``_KeepAliveHandler``: opens ``http:`` and ``https:`` requests on pooled
  ``http.client`` connections instead of urllib's one-connection-per-request;
* ``_RedirectHandler``: urllib's redirects for GET only, minus ``Authorization`` on a
  change of origin and minus ``Proxy-Authorization`` always;
* ``HTTPErrorProcessor`` + ``_ErrorResponses``: 4xx/5xx come back as responses, not exceptions.

Who owns a connection is explicit. The pool lends it to one response through a
``_Lease``; the lease gives it back exactly once, when the response is closed. It goes
back to the idle list only if the body was read to its framed end (the whole
``Content-Length``, or the last chunk and its trailer), and is closed otherwise. After
that, nothing the response holds can touch the socket. Interim ``1xx`` answers are
skipped; an idle connection that has anything to read (the server closed it, or sent
bytes nobody asked for) is never reused.

``Transport.send`` and ``Transport.open_stream`` run the retry policy (``_retry``) and
translate every standard-library error into an ``APIConnectionError``/``APITimeoutError``
raised ``from`` the cause. A ``deadline`` bounds every connect, read and retry wait.
"""

from __future__ import annotations

import http.client
import random
import select
import socket
import time
import urllib.error
import urllib.request
import weakref
from _thread import allocate_lock  # threading's Lock; threading itself loads only if needed
from collections import deque
from contextlib import contextmanager
from typing import Any, Callable, Deque, Dict, Iterator, List, NamedTuple, Optional, Tuple, Union
from urllib.parse import urljoin

from . import _fork, _log
from ._exceptions import APIConnectionError, APITimeoutError, ResponseTooLargeError
from ._retry import Failure, RetryPolicy, parse_retry_after
from ._urls import is_loopback, origin_of, url_problem, valid_host

__all__ = ["Headers", "Response", "StreamResponse", "Transport"]

_Connection = Union["_HTTPConnection", "_HTTPSConnection"]
_PoolKey = Tuple[bool, str, Optional[str]]
Headers = http.client.HTTPMessage

#: Seconds an idle connection is kept before it is closed rather than reused.
KEEPALIVE_EXPIRY = 5.0
#: The largest chunk size accepted in a chunked body (anything larger is a hostile server).
MAX_CHUNK_SIZE = 1 << 40
#: Interim 1xx answers skipped before one request's final answer.
MAX_INTERIM_RESPONSES = 16
_READ_SIZE = 65536


class Response:
    """A complete HTTP response; ``headers.get(name)`` ignores the name's case."""

    __slots__ = ("body", "headers", "status", "url")

    def __init__(self, status: int, headers: Headers, body: bytes, url: str) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url


class _NotSent(Exception):
    """The request could not be started: nothing of it reached the server."""

    def __init__(self, cause: BaseException, *, unreachable: bool = False) -> None:
        self.cause = cause
        self.unreachable = unreachable
        super().__init__(type(cause).__name__)


class _Slot:
    """One of an origin's ``max_per_origin`` places in use, held from ``acquire`` until
    ``release``. Released however its holder dies: an interrupt (``KeyboardInterrupt``,
    or whatever a signal handler raises) anywhere between the two cannot keep it, as
    a slot nobody refers to any more gives its place back when it is collected.
    """

    __slots__ = ("_generation", "_held", "_pool", "key")

    def __init__(self, pool: _Pool, key: _PoolKey) -> None:
        self._pool = pool
        self.key = key
        self._held = False  # the pool sets it in the same breath as it counts the slot
        self._generation = pool.generation

    def release(self) -> None:
        """Gives the place back; nothing the second time, nor in a forked child (the place is the parent's)."""
        if self._generation != self._pool.generation:
            self._held = False
        if self._held:
            self._pool._free(self)

    def __del__(self) -> None:
        if getattr(self, "_held", False) and self._generation == self._pool.generation:
            # No lock here: the collector may run this while this very thread holds it.
            self._held = False
            self._pool._orphans.append(self.key)


class _Lease:
    """One connection lent by the pool to one response. Released exactly once.

    It keeps the socket itself: http.client drops ``conn.sock`` as soon as an answer
    says ``Connection: close``, and the socket then lives on inside the response alone.
    Its ``_Slot`` is given back whatever happens while the connection is.
    """

    __slots__ = ("_aborted", "_conn", "_generation", "_lock", "_pool", "_slot", "_sock")

    def __init__(self, pool: _Pool, slot: _Slot, conn: _Connection) -> None:
        self._pool = pool
        self._slot = slot
        self._conn: Optional[_Connection] = conn
        self._sock: Optional[socket.socket] = conn.sock
        self._lock = allocate_lock()
        self._aborted = False
        self._generation = pool.generation

    def _inherited(self) -> bool:
        """True in a forked child for a lease made before the fork: its socket is the parent's
        too, so the child neither reuses it, nor shuts it down, nor takes its lock (which
        another of the parent's threads may have held at the fork)."""
        if self._generation == self._pool.generation:
            return False
        self._conn = self._sock = None
        return True

    @property
    def alive(self) -> bool:
        return self._conn is not None

    @property
    def aborted(self) -> bool:
        """True once ``abort()`` shut the socket: an end of data read after it is not the
        server's, and whatever was read up to it may be cut short."""
        return self._aborted

    def release(self, reusable: bool) -> None:
        """Gives the connection back (to the idle list if ``reusable``, else closed)."""
        if self._inherited():
            return
        conn = None
        try:
            with self._lock:
                conn, self._conn, self._sock = self._conn, None, None
            if conn is not None:
                self._pool.put_back(self._slot.key, conn, reusable and not self._aborted)
                conn = None
        finally:
            try:
                if conn is not None:  # put_back was interrupted: the connection is not to be trusted
                    conn.close()
            finally:
                self._slot.release()

    def abort(self) -> None:
        """Shuts the socket down, from any thread, waking a blocked read; nothing once released."""
        if self._inherited():
            return
        with self._lock:
            sock = self._sock
            if sock is None:
                return
            self._aborted = True
            try:
                # socket.socket's own shutdown: an SSLSocket's would first drop its TLS
                # state, and a read racing it could then take ciphertext for the answer.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass


class _PooledResponse(http.client.HTTPResponse):
    """An ``HTTPResponse`` that knows whether its body was read to its framed end."""

    lease: Optional[_Lease] = None
    url: str
    code: int
    _saw_last_chunk = False

    def begin(self) -> None:
        super().begin()
        # http.client takes the first Content-Length and reads it with int() ("+47" and "4_7"
        # pass), and uses it when a Transfer-Encoding other than chunked is there too. RFC 9112
        # 6.3: that framing is unrecoverable, so the answer is refused and its connection closed.
        encodings = ",".join(self.headers.get_all("transfer-encoding") or ())
        lengths = {value.strip() for line in self.headers.get_all("content-length") or () for value in line.split(",")}
        if encodings:
            if [coding.strip().lower() for coding in encodings.split(",")] != ["chunked"]:
                raise http.client.HTTPException(f"unsupported Transfer-Encoding {encodings[:40]!r}")
            if not self.chunked:  # " chunked" with spaces, which http.client compares as written
                self.chunked, self.chunk_left, self.length = True, None, None
                self.will_close = bool(getattr(self, "_check_close")())  # noqa: B009  # it took the body as close-delimited
            if lengths:  # chunked wins, and the connection is not reused after
                self.will_close = True
        elif lengths:
            if len(lengths) > 1 or not all(value.isdigit() and value.isascii() for value in lengths):
                raise http.client.HTTPException("conflicting or malformed Content-Length")
            if self.length is None and not self._has_no_body():  # "33, 33", which int() refuses
                self.length = int(lengths.pop())

    def _has_no_body(self) -> bool:
        """True for an answer that has no body whatever its headers say (http.client's rule)."""
        return self.status in (204, 304) or 100 <= self.status < 200 or getattr(self, "_method", None) == "HEAD"

    def _read_status(self) -> Tuple[str, int, str]:
        # http.client skips "100 Continue" only; every interim 1xx must be skipped, or
        # its empty body would be taken as the answer and the real one left for the next
        # request. A 101 would switch protocols, which nobody here asked for.
        for _ in range(MAX_INTERIM_RESPONSES + 1):
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if status == 101:
                raise http.client.HTTPException("101 Switching Protocols was not asked for")
            if not 100 <= status < 200:
                return version, status, reason
            http.client.parse_headers(self.fp)  # the interim answer's headers, discarded
        raise http.client.HTTPException(f"more than {MAX_INTERIM_RESPONSES} interim 1xx responses")

    def _read_next_chunk_size(self) -> int:
        size: int = super()._read_next_chunk_size()  # type: ignore[misc]
        if not 0 <= size <= MAX_CHUNK_SIZE:
            raise ValueError("chunk size out of range")
        return size

    def _read_and_discard_trailer(self) -> None:
        super()._read_and_discard_trailer()  # type: ignore[misc]
        self._saw_last_chunk = True

    @property
    def complete(self) -> bool:
        """True once the body was read to its framed end (nothing of it left on the socket)."""
        if self.chunked:
            return self._saw_last_chunk
        return self.length == 0

    def close(self) -> None:
        reusable = self.complete and not self.will_close
        lease, self.lease = self.lease, None
        try:
            super().close()
        finally:
            if lease is not None:
                try:
                    lease.release(reusable)
                finally:
                    lease.release(False)  # nothing, unless an interrupt came at its first line


class _HTTPConnection(http.client.HTTPConnection):
    response_class = _PooledResponse
    debuglevel = 0  # never http.client's global: its debug output prints the Authorization header


class _HTTPSConnection(http.client.HTTPSConnection):
    response_class = _PooledResponse
    debuglevel = 0


class _Pool:
    """Connections per (https, host, tunnel host): idle ones to reuse, and a cap on those in use.

    Up to ``max_per_origin`` idle connections are kept, each for ``KEEPALIVE_EXPIRY`` seconds.
    """

    def __init__(self, max_per_origin: int) -> None:
        self.max_per_origin = max_per_origin
        self._idle: Dict[_PoolKey, Deque[Tuple[_Connection, float]]] = {}
        self._in_use: Dict[_PoolKey, int] = {}
        self._lock = allocate_lock()  # the fast path takes only this (a C lock)
        self._changed: Any = None  # a Condition on _lock, made for the first wait for a free slot
        self._waiting = 0
        self._orphans: Deque[_PoolKey] = deque()  # places of slots collected unreleased
        self._next_sweep = 0.0  # when put_back next looks for expired connections of every origin
        self.closed = False
        self.generation = 0  # forks survived: a lease from an earlier one is the parent's
        _fork.track(self)

    def _after_fork_in_child(self) -> None:
        """Forgets the parent's connections and counts; closes nothing (the parent uses them)."""
        self._idle = {}
        self._in_use = {}
        self._lock = allocate_lock()
        self._changed = None
        self._waiting = 0
        self._orphans = deque()
        self.generation += 1

    def acquire(self, key: _PoolKey, wait: Optional[float]) -> Tuple[_Slot, Optional[_Connection]]:
        """Takes a slot for ``key``, with a usable idle connection or None (open one).

        Waits at most ``wait`` seconds (None: as long as it takes) for a slot while
        ``max_per_origin`` connections are in use. The slot is the caller's to release.
        """
        with self._lock:
            self._reclaim()
            in_use = self._in_use.get(key, 0)
            if in_use >= self.max_per_origin:
                in_use = self._wait_for_slot(key, wait)
            slot = _Slot(self, key)
            self._in_use[key] = in_use + 1
            slot._held = True
        try:
            now = time.monotonic()
            while True:
                with self._lock:
                    idle = self._idle.get(key)
                    if not idle:
                        return slot, None
                    conn, since = idle.pop()  # the most recently used: the likeliest to be alive
                    if not idle:
                        del self._idle[key]
                try:
                    if now - since < KEEPALIVE_EXPIRY and _is_usable(conn):
                        return slot, conn
                except BaseException:
                    conn.close()
                    raise
                conn.close()
        except BaseException:
            slot.release()
            raise

    def _free(self, slot: _Slot) -> None:
        with self._lock:
            if slot._held:
                slot._held = False
                self._give_back(slot.key)
            self._reclaim()
            if self._waiting:
                self._changed.notify_all()  # waiters may be for other origins

    def _give_back(self, key: _PoolKey) -> None:
        """With the lock held: one place of ``key`` free; its state goes with its last use."""
        in_use = self._in_use[key] - 1
        if in_use:
            self._in_use[key] = in_use
        else:
            del self._in_use[key]

    def _reclaim(self) -> None:
        """With the lock held: the places of slots that were collected unreleased."""
        while self._orphans:
            self._give_back(self._orphans.popleft())

    def _wait_for_slot(self, key: _PoolKey, wait: Optional[float]) -> int:
        """With the lock held: waits until ``key`` has a free slot; returns its count in use."""
        limit = None if wait is None else time.monotonic() + wait
        if self._changed is None:
            import threading

            self._changed = threading.Condition(self._lock)
        self._waiting += 1
        try:
            while True:
                in_use = self._in_use.get(key, 0)
                if in_use < self.max_per_origin:
                    return in_use
                left = None if limit is None else limit - time.monotonic()
                if left is not None and left <= 0:
                    raise _NotSent(TimeoutError(f"all {self.max_per_origin} connections to {key[1]} stayed busy"))
                self._changed.wait(left)
                self._reclaim()
        finally:
            self._waiting -= 1

    def put_back(self, key: _PoolKey, conn: _Connection, reusable: bool) -> None:
        """Keeps ``conn`` idle if ``reusable``, else closes it (its slot is released apart)."""
        keep = reusable and conn.sock is not None
        expired: List[_Connection] = []
        now = time.monotonic()
        with self._lock:
            idle = self._idle.get(key) or deque()
            while idle and now - idle[0][1] >= KEEPALIVE_EXPIRY:  # the oldest go first
                expired.append(idle.popleft()[0])
            if keep and not self.closed and len(idle) < self.max_per_origin:
                idle.append((conn, now))  # a burst's connections serve the next
            else:
                expired.append(conn)
            if idle:
                self._idle[key] = idle
            else:
                self._idle.pop(key, None)  # an origin's state goes with its last connection
            if now >= self._next_sweep:  # other origins' expired connections: nobody may come back for them
                self._next_sweep = now + KEEPALIVE_EXPIRY
                for other in [other for other, idle in self._idle.items() if now - idle[0][1] >= KEEPALIVE_EXPIRY]:
                    idle = self._idle[other]
                    while idle and now - idle[0][1] >= KEEPALIVE_EXPIRY:
                        expired.append(idle.popleft()[0])
                    if not idle:
                        del self._idle[other]
        for old in expired:
            old.close()

    def close(self) -> None:
        with self._lock:
            self.closed = True
            conns = [conn for idle in self._idle.values() for conn, _ in idle]
            self._idle.clear()
        for conn in conns:
            conn.close()


def _is_usable(conn: _Connection) -> bool:
    """False when an idle connection has anything to read: the server closed it, or sent
    bytes nobody asked for. Either way its next answer could not be trusted."""
    sock = conn.sock
    if sock is None:
        return False
    if hasattr(sock, "pending"):  # TLS: bytes may wait decrypted, or in OpenSSL's buffer, unseen by a poll
        return _tls_is_quiet(sock)
    try:
        if hasattr(select, "poll"):  # no FD_SETSIZE limit
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return not poller.poll(0)
        readable, _, _ = select.select([sock], [], [], 0)  # pragma: no cover - platforms without poll()
    except (OSError, ValueError):
        return False
    return not readable  # pragma: no cover


def _tls_is_quiet(sock: Any) -> bool:
    """True when a TLS socket has nothing to read: a non-blocking ``recv`` that would block."""
    import ssl  # loaded already: the socket is an SSLSocket

    if sock.pending():
        return False
    timeout = sock.gettimeout()
    try:
        sock.setblocking(False)
        sock.recv(1)  # bytes nobody asked for, or b"": the server closed it
        return False
    except ssl.SSLWantReadError:
        return True  # nothing there (a TLS 1.3 session ticket is consumed on the way)
    except (OSError, ValueError):
        return False
    finally:
        try:
            sock.settimeout(timeout)
        except OSError:
            pass


def _host_of(authority: str) -> str:
    """The host of ``host[:port]`` as urllib decoded it, brackets removed, nothing stripped."""
    if authority.startswith("["):
        host, bracket, rest = authority[1:].partition("]")
        return host if bracket and (not rest or (rest[0] == ":" and rest[1:].isdigit())) else authority
    host, colon, port = authority.rpartition(":")
    return host if colon and (not port or port.isdigit()) and port.isascii() else authority


def _check_host(authority: str) -> None:
    """Raises ``_NotSent`` for a host that is not a name or an IP literal (a CR, LF, space
    or NUL would split a ``CONNECT`` or a request line, or crash the connect)."""
    if not valid_host(_host_of(authority)):
        raise _NotSent(ValueError("the URL's host is not a valid host name"), unreachable=True)


class _ProxyHandler(urllib.request.ProxyHandler):
    """urllib's proxies, never for a loopback destination: plain http to loopback is
    allowed because the bytes (the token) stay on the machine, so they must not go to a proxy."""

    def proxy_open(self, req: urllib.request.Request, proxy: str, type: str) -> Any:
        _check_host(req.host)
        if is_loopback(_host_of(req.host)):
            return None
        return super().proxy_open(req, proxy, type)


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

    def _connect(self, key: _PoolKey, tunnel_headers: Dict[str, str], deadline: Optional[float]) -> _Connection:
        https, host, tunnel = key
        timeout = _remaining(self._connect_timeout, deadline)
        conn: _Connection
        if https:
            conn = _HTTPSConnection(host, timeout=timeout, context=self._ssl())
        else:
            conn = _HTTPConnection(host, timeout=timeout)
        if tunnel:
            conn.set_tunnel(tunnel, headers=tunnel_headers)
        try:
            conn.connect()
        except OSError as exc:
            conn.close()
            # A name that does not resolve or a certificate that does not verify will
            # not get better by trying again; a refused or reset connection might.
            unreachable = isinstance(exc, socket.gaierror) or type(exc).__name__.startswith("SSL")
            raise _NotSent(exc, unreachable=unreachable) from exc
        except (ValueError, OverflowError, TypeError) as exc:  # a port out of range, a NUL in the host
            conn.close()
            raise _NotSent(exc, unreachable=True) from exc
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _open(self, req: urllib.request.Request, *, https: bool) -> _PooledResponse:
        if not req.host:
            raise _NotSent(urllib.error.URLError("no host given"), unreachable=True)
        tunnel_host: Optional[str] = req._tunnel_host or None  # type: ignore[attr-defined]
        _check_host(req.host)
        if tunnel_host:
            _check_host(tunnel_host)
        via_proxy = bool(tunnel_host) or "://" in req.selector  # CONNECT, or an absolute-form request line
        # urllib's do_open: unredirected headers win; names back in Title-Case.
        headers = {name.title(): value for name, value in (*req.headers.items(), *req.unredirected_hdrs.items())}
        # Proxy credentials are for the proxy alone: its CONNECT, or a request sent through it.
        proxy_auth = headers.pop("Proxy-Authorization", None)
        tunnel_headers = {}
        if proxy_auth is not None and via_proxy:
            if tunnel_host:
                tunnel_headers["Proxy-Authorization"] = proxy_auth
            else:
                headers["Proxy-Authorization"] = proxy_auth
        key: _PoolKey = (https, req.host, tunnel_host)
        options = _options_of(req)
        deadline, idempotent = options.deadline, options.idempotent
        # The token is asked for at each hop (a redirect may leave the origin it is for), and
        # passed straight to http.client: no local of this frame holds it while it waits.
        authorize = options.authorize
        full_url = req.full_url
        if deadline is None:
            read_timeout, connect_timeout = req.timeout, self._connect_timeout
        else:
            read_timeout, connect_timeout = (
                _remaining(req.timeout, deadline),
                _remaining(self._connect_timeout, deadline),
            )
        while True:
            slot, conn = self._pool.acquire(key, connect_timeout)
            reused = conn is not None
            lease: Optional[_Lease] = None
            try:
                if conn is None:
                    conn = self._connect(key, tunnel_headers, deadline)
                lease = _Lease(self._pool, slot, conn)
                if deadline is not None:  # a server that dribbles bytes must not outlast it
                    _watchdog().arm(deadline, lease)
                cancel = options.cancel
                if cancel is not None:
                    cancel.watch(lease)
                if conn.sock.gettimeout() != read_timeout:  # settimeout costs system calls
                    conn.sock.settimeout(read_timeout)
                try:
                    conn.request(req.get_method(), req.selector, req.data, _authorized(headers, authorize, full_url))
                except (ValueError, TypeError) as exc:  # an illegal header or URL: nothing left
                    raise _NotSent(exc, unreachable=True) from exc
                response = conn.getresponse()
                if lease.aborted:  # the deadline or a cancel shut the socket: its EOF ended the headers
                    raise ConnectionAbortedError("the connection was broken while the answer's headers were read")
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
                _discard(slot, conn, lease)
                # A reused connection the server closed meanwhile: the request never ran,
                # but only a request that is safe to repeat is sent again to be sure.
                if reused and idempotent and (deadline is None or time.monotonic() < deadline):
                    continue
                raise
            except BaseException:
                _discard(slot, conn, lease)
                raise
            break
        assert isinstance(response, _PooledResponse)
        response.lease = lease
        response.url = full_url
        response.msg = response.reason  # type: ignore[assignment]  # what urllib's do_open does
        response.code = response.status
        return response


def _authorized(
    headers: Dict[str, str], authorize: Optional[Callable[[str], Optional[str]]], url: str
) -> Dict[str, str]:
    """``headers`` with ``Authorization`` added if ``authorize(url)`` gives one."""
    value = authorize(url) if authorize is not None else None
    return headers if value is None else {**headers, "Authorization": value}


def _discard(slot: _Slot, conn: Optional[_Connection], lease: Optional[_Lease]) -> None:
    """Closes a connection that failed before or while its answer was read, and frees its slot."""
    if lease is not None:
        lease.release(False)
        return
    try:
        if conn is not None:
            conn.close()
    finally:
        slot.release()


class _Watchdog:
    """One daemon thread that breaks the connections of calls whose deadline has passed.

    A socket timeout bounds each read, not a whole answer: a server sending a byte now
    and then would outlast any deadline. Armed only for calls that have a deadline.
    """

    def __init__(self) -> None:
        import threading  # only programs with deadlines start this thread

        self._changed = threading.Condition(threading.Lock())
        self._due: List[Tuple[float, int, _Lease]] = []
        self._count = 0
        self._compact_at = 1024
        threading.Thread(target=self._run, name="replicate-min-deadlines", daemon=True).start()

    def arm(self, deadline: float, lease: _Lease) -> None:
        import heapq

        with self._changed:
            self._count += 1
            heapq.heappush(self._due, (deadline, self._count, lease))
            if len(self._due) >= self._compact_at:  # calls that ended in time: forget them
                self._due = [entry for entry in self._due if entry[2].alive]
                heapq.heapify(self._due)
                self._compact_at = max(1024, 2 * len(self._due))
            if self._due[0][2] is lease:
                self._changed.notify()

    def _run(self) -> None:
        import heapq

        while True:
            with self._changed:
                while not self._due or self._due[0][0] > time.monotonic():
                    # At most an hour at a time: a wait past threading.TIMEOUT_MAX would raise
                    # and end this thread, and with it every deadline in the process.
                    self._changed.wait(min(self._due[0][0] - time.monotonic(), 3600.0) if self._due else None)
                lease = heapq.heappop(self._due)[2]
            lease.abort()  # nothing, if the call finished in time


_WATCHDOG: List[_Watchdog] = []
_WATCHDOG_LOCK = allocate_lock()


def _forget_the_watchdog() -> None:
    """In a forked child: the watchdog's thread is the parent's; the next deadline starts one."""
    global _WATCHDOG_LOCK
    _WATCHDOG.clear()
    _WATCHDOG_LOCK = allocate_lock()


_fork.on_fork_in_child(_forget_the_watchdog)


def _watchdog() -> _Watchdog:
    if not _WATCHDOG:
        with _WATCHDOG_LOCK:
            if not _WATCHDOG:
                _WATCHDOG.append(_Watchdog())
    return _WATCHDOG[0]


class _CallOptions(NamedTuple):
    """What one call asks of every hop of its request (redirects included)."""

    #: Safe to send again (a GET, a cancel): a reused connection found closed is retried.
    idempotent: bool = False
    #: A ``time.monotonic()`` value bounding every connect, read and wait, or None.
    deadline: Optional[float] = None
    #: ``authorize(url)`` gives the ``Authorization`` value for that hop, or None.
    authorize: Optional[Callable[[str], Optional[str]]] = None
    #: A ``_requester.Cancel`` whose setting breaks the connection in use, or None.
    cancel: Any = None


class _Request(urllib.request.Request):
    """A urllib request that carries its call's ``_CallOptions`` to the handlers."""

    def __init__(
        self, url: str, data: Optional[bytes], headers: Dict[str, str], method: str, options: _CallOptions
    ) -> None:
        super().__init__(url, data=data, headers=headers, method=method)
        self.options = options


def _options_of(req: urllib.request.Request) -> _CallOptions:
    return req.options if isinstance(req, _Request) else _CallOptions()


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """urllib's redirects for GET and HEAD only, to http(s) only, credentials kept home.

    A redirected create is never followed: urllib would turn a POST answered with
    301/302/303 into a GET of the target, and return that as the new prediction. A
    redirect that is not followed goes back to the caller as the 3xx answer it is.
    """

    def http_error_302(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any) -> Any:
        try:
            return super().http_error_302(req, fp, code, msg, headers)
        except (urllib.error.HTTPError, ValueError):
            # urllib refuses some targets itself (another scheme, a URL it cannot parse)
            # before reading the answer: it goes back to the caller, which closes it.
            return fp

    http_error_301 = http_error_303 = http_error_307 = http_error_302
    if hasattr(urllib.request.HTTPRedirectHandler, "http_error_308"):  # Python 3.11+
        http_error_308 = http_error_302

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> Optional[urllib.request.Request]:
        if req.get_method() not in ("GET", "HEAD"):
            return None  # the 3xx goes back to the caller as an answer
        if url_problem(urljoin(req.full_url, newurl)) is not None:
            return None  # the one URL rule (a host urllib would decode into another request, say)
        try:
            new = super().redirect_request(req, fp, code, msg, headers, newurl)
        except ValueError:  # a target urllib cannot even parse
            return None
        if new is not None:
            fp.close()  # the body of a redirect is not read: its connection is not reused
            # urllib stores names capitalized ("Proxy-authorization"): match them in any case
            drop = {"proxy-authorization"}  # the ProxyHandler adds it again if the proxy is due
            if origin_of(newurl) != origin_of(req.full_url):
                drop.add("authorization")
            for name in [name for name in new.headers if name.lower() in drop]:
                del new.headers[name]
            for name in [name for name in new.unredirected_hdrs if name.lower() in drop]:
                del new.unredirected_hdrs[name]
            hop = _Request(new.full_url, None, dict(new.headers), new.get_method(), _options_of(req))
            hop.unredirected_hdrs = new.unredirected_hdrs
            hop.origin_req_host, hop.unverifiable = new.origin_req_host, new.unverifiable
            return hop  # the next hop is the same call
        return new


class _ErrorResponses(urllib.request.BaseHandler):
    """Returns 4xx/5xx responses to the caller instead of raising ``HTTPError``."""

    handler_order = 1000

    def http_error_default(self, req: Any, fp: Any, code: int, msg: str, hdrs: Any) -> Any:
        return fp


class StreamResponse:
    """An open response whose body is read incrementally. Close it when done.

    Its connection goes back to the pool when the body has been read to its end;
    ``close()`` and ``abort()`` after that do nothing to it.
    """

    def __init__(self, response: _PooledResponse, read_timeout: Optional[float], deadline: Optional[float]) -> None:
        self._response = response
        self._read_timeout = read_timeout
        self._deadline = deadline
        self._closed = False
        self._lease = response.lease
        self.status: int = response.status
        self.headers: Headers = response.headers
        self.url: str = response.url

    def read1(self, size: int = _READ_SIZE) -> bytes:
        """The bytes that have arrived, at most ``size``; ``b""`` at the end of the body."""
        response = self._response
        try:
            chunk = response.read1(size)
            if not chunk and (
                ((response.chunked or response.length) and not response.complete)
                or (self._lease is not None and self._lease.aborted)  # a close-delimited body's EOF was ours
            ):
                raise http.client.IncompleteRead(b"")  # http.client's read1 just stops
        except (OSError, http.client.HTTPException, ValueError, OverflowError) as exc:
            raise self._failed(exc) from exc
        if not chunk:
            self.close()
        return chunk

    def _failed(self, exc: BaseException) -> APIConnectionError:
        """The library error for a read that failed; the response is closed."""
        _forget_locals(exc)
        self.close()
        if self._deadline is not None and time.monotonic() >= self._deadline:
            return APITimeoutError(f"reading {self.url!r} passed the call's deadline")
        if isinstance(exc, (socket.timeout, TimeoutError)):
            return APITimeoutError(f"no data from {self.url!r} within {self._read_timeout} s")
        if isinstance(exc, http.client.IncompleteRead):
            return APIConnectionError(f"the response from {self.url!r} was cut short")
        return APIConnectionError(f"the response from {self.url!r} broke ({type(exc).__name__})")

    def read(self, limit: int) -> bytes:
        """The rest of the body; ``ResponseTooLargeError`` past ``limit`` bytes."""
        response = self._response
        length = response.length
        if not response.chunked and length is not None and length > limit:  # refused before a byte is read
            self.close()
            raise ResponseTooLargeError(f"the response from {self.url!r} declares {length} bytes, over {limit}")
        if not response.chunked and length is not None:  # the usual answer: one read
            try:
                data = response.read()
            except (OSError, http.client.HTTPException, ValueError, OverflowError) as exc:
                raise self._failed(exc) from exc
            self.close()
            return data
        chunks: List[bytes] = []
        size = 0
        while True:
            chunk = self.read1()
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                self.close()
                raise ResponseTooLargeError(f"the response from {self.url!r} is larger than {limit} bytes")
            chunks.append(chunk)

    def close(self) -> None:
        """Ends the response; its connection is reused only if the body was read to the end."""
        if not self._closed:
            self._closed = True
            self._response.close()

    def abort(self) -> None:
        """Breaks the connection from any thread, waking a ``read1`` blocked on it."""
        lease = self._lease
        if lease is not None:
            lease.abort()


def _remaining(timeout: Optional[float], deadline: Optional[float]) -> Optional[float]:
    """The smaller of ``timeout`` and the time left until ``deadline`` (never below a millisecond)."""
    if deadline is None:
        return timeout
    left = max(deadline - time.monotonic(), 0.001)
    return left if timeout is None else min(timeout, left)


class Transport:
    """Sends requests with pooled connections, timeouts, retries and error translation.

    Safe to share between threads. Per-call values (timeouts, retry policy, size
    limit) are arguments, so a caller's change of configuration applies at once.

    Args:
        connect_timeout: seconds to open a connection (and to wait for a free one).
        ssl_context: an ``ssl.SSLContext``; else the system's verified default.
        proxy: a proxy URL for every request; else the environment's.
        max_connections: connections to one origin in use at once.
    """

    def __init__(
        self,
        *,
        connect_timeout: Optional[float],
        ssl_context: Any = None,
        proxy: Optional[str] = None,
        max_connections: int = 100,
    ) -> None:
        self._pool = _Pool(max_connections)
        # A client dropped without close() is freed by the cycle collector, which may
        # finalize the pooled sockets in any order. A weakref callback runs before any
        # finalizer, so the sockets close cleanly.
        weakref.finalize(self, self._pool.close)
        proxies = None if proxy is None else {"http": proxy, "https": proxy}
        opener = urllib.request.OpenerDirector()
        opener.addheaders = []  # never urllib's "Python-urllib" User-Agent
        for handler in (
            _ProxyHandler(proxies),
            _KeepAliveHandler(self._pool, connect_timeout, ssl_context),
            _RedirectHandler(),
            urllib.request.HTTPErrorProcessor(),
            _ErrorResponses(),
        ):
            opener.add_handler(handler)
        self._opener = opener

    def close(self) -> None:
        """Closes the idle pooled connections; connections in use close when released."""
        self._pool.close()

    def send(
        self,
        method: str,
        url: str,
        headers: Dict[str, str],
        body: Optional[bytes] = None,
        *,
        idempotent: bool,
        retry: RetryPolicy,
        read_timeout: Optional[float],
        deadline: Optional[float] = None,
        max_body: int,
        authorize: Optional[Callable[[str], Optional[str]]] = None,
    ) -> Response:
        """Sends a request and returns the whole response, whatever its status.

        The retry policy: every request is retried on 429 (a throttled request did
        nothing), after ``Retry-After`` or the body's ``retry_after``, and when the
        connection was refused, reset or timed out while opening (nothing was sent; a
        DNS or TLS certificate failure is not retried). An ``idempotent`` request (GET,
        cancel) is also retried on 500, 502, 503, 504 and on connection failures. A
        create is never repeated once it may have reached the server, so a retry can
        never create a duplicate prediction. ``deadline`` (a ``time.monotonic()`` value)
        bounds every read and every wait; a retry that would end past it is not made.
        ``authorize(url)`` gives the ``Authorization`` value for each hop, or None.

        Raises:
            APIConnectionError: no usable answer; ``.sent`` tells whether the request left.
            APITimeoutError: connecting or reading timed out, or the deadline passed.
            ResponseTooLargeError: the body is larger than ``max_body`` bytes.
        """

        def once() -> Response:
            stream = self._open(method, url, headers, body, idempotent, read_timeout, deadline, authorize)
            try:
                data = stream.read(max_body)
            finally:
                stream.close()
            return Response(stream.status, stream.headers, data, url)

        def retry_after(response: Response) -> Optional[float]:
            return parse_retry_after(response.headers.get("retry-after"), response.body, time.time())

        response: Response = self._with_retries(
            once, retry_after, lambda response: None, method, url, idempotent, retry, deadline
        )
        return response

    def open_stream(
        self,
        url: str,
        headers: Dict[str, str],
        *,
        retry: RetryPolicy,
        read_timeout: Optional[float],
        deadline: Optional[float] = None,
        authorize: Optional[Callable[[str], Optional[str]]] = None,
        cancel: Any = None,
    ) -> StreamResponse:
        """GETs ``url`` and returns the response with its body unread, whatever its status.

        Retried as ``send`` retries a GET. Close the response when done. ``cancel`` (a
        ``_requester.Cancel``) set from another thread breaks the connection in use, even
        while it connects, and stops the retries.
        """

        def once() -> StreamResponse:
            return self._open("GET", url, headers, None, True, read_timeout, deadline, authorize, cancel)

        def retry_after(response: StreamResponse) -> Optional[float]:
            return parse_retry_after(response.headers.get("retry-after"), b"", time.time())

        stream: StreamResponse = self._with_retries(
            once, retry_after, lambda response: response.close(), "GET", url, True, retry, deadline, cancel
        )
        return stream

    def _with_retries(
        self,
        once: Callable[[], Any],
        retry_after: Callable[[Any], Optional[float]],
        discard: Callable[[Any], None],
        method: str,
        url: str,
        idempotent: bool,
        retry: RetryPolicy,
        deadline: Optional[float],
        cancel: Any = None,
    ) -> Any:
        attempt = 0
        while True:
            try:
                result = once()
            except ResponseTooLargeError:
                raise  # the same body would come again
            except _NotSent as exc:  # the failure's kind is the _NotSent's; translated only when final
                failure = Failure.UNREACHABLE if exc.unreachable else Failure.NOT_SENT
                delay = retry.delay(attempt, idempotent=idempotent, failure=failure, jitter=random.random())
                if delay is None or _past(deadline, delay):
                    raise _translate(exc.cause, method, url, sent=False) from exc.cause
                _log.debug("retrying %s %r in %.2f s after %s", method, url, delay, type(exc.cause).__name__)
            except APIConnectionError as exc:
                failure = Failure.SENT if exc.sent else Failure.NOT_SENT
                delay = retry.delay(attempt, idempotent=idempotent, failure=failure, jitter=random.random())
                if delay is None or _past(deadline, delay):
                    raise
                _log.debug("retrying %s %r in %.2f s after %s", method, url, delay, type(exc).__name__)
            else:
                status = result.status
                if not retry.retries_status(status, idempotent=idempotent):
                    return result
                delay = retry.delay(
                    attempt,
                    idempotent=idempotent,
                    status=status,
                    retry_after=retry_after(result),
                    jitter=random.random(),
                )
                if delay is None or _past(deadline, delay):
                    return result
                discard(result)
                _log.debug("retrying %s %r in %.2f s after status %d", method, url, delay, status)
            if cancel is None:
                time.sleep(delay)
            elif cancel.wait(delay):
                raise APIConnectionError(f"{method} {url!r} was cancelled", sent=False)
            attempt += 1

    def _open(
        self,
        method: str,
        url: str,
        headers: Dict[str, str],
        body: Optional[bytes],
        idempotent: bool,
        read_timeout: Optional[float],
        deadline: Optional[float],
        authorize: Optional[Callable[[str], Optional[str]]],
        cancel: Any = None,
    ) -> StreamResponse:
        if cancel is not None and cancel.is_set():
            raise APIConnectionError(f"{method} {url!r} was cancelled", sent=False)
        if deadline is not None and deadline <= time.monotonic():
            raise APITimeoutError(f"{method} {url!r} was not sent: the deadline had passed", sent=False)
        request = _Request(url, body, headers, method, _CallOptions(idempotent, deadline, authorize, cancel))
        _log.debug("request %s %r", method, url)
        with _library_errors(method, url, deadline):
            response = self._opener.open(request, timeout=read_timeout)
        _log.debug("response %s %r: %d", method, url, response.status)
        return StreamResponse(response, read_timeout, deadline)


@contextmanager
def _library_errors(method: str, url: str, deadline: Optional[float]) -> Iterator[None]:
    """The boundary: a standard-library error raised while sending a request or awaiting
    its answer leaves as an ``APIConnectionError``/``APITimeoutError``, ``from`` the cause.
    (``_NotSent``, raised before anything left, passes through to the retry loop, which
    decides on its kind and translates it if it is final.)"""
    try:
        yield
    except (OSError, http.client.HTTPException, ValueError, OverflowError) as exc:
        raise _translated(exc, method, url, deadline) from exc


def _past(deadline: Optional[float], delay: float) -> bool:
    return deadline is not None and time.monotonic() + delay > deadline


def _translated(exc: BaseException, method: str, url: str, deadline: Optional[float]) -> APIConnectionError:
    """The library error for a standard-library error raised while sending or awaiting the answer."""
    sent = not (isinstance(exc, urllib.error.URLError) and not isinstance(exc.reason, BaseException))
    # (urllib refusing the URL itself, "unknown url type", sent nothing)
    if deadline is not None and time.monotonic() >= deadline:
        _forget_locals(exc)
        outcome = "the request may have reached the server" if sent else "nothing was sent"
        return APITimeoutError(f"{method} {url!r} passed the call's deadline ({outcome})", sent=sent)
    return _translate(exc, method, url, sent=sent)


def _forget_locals(exc: BaseException) -> None:
    """Clears the locals of the frames an error passed through (http.client's hold the
    request's headers, token included), so a traceback printer cannot show them."""
    import traceback

    traceback.clear_frames(exc.__traceback__)


def _translate(exc: BaseException, method: str, url: str, *, sent: bool) -> APIConnectionError:
    # Messages name the error's type and the OS's reason, never the exception's text in
    # full: http.client quotes header values there, and a header may hold the token.
    _forget_locals(exc)
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    where = f"{method} {url!r}"
    outcome = "the request may have reached the server" if sent else "nothing was sent"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return APITimeoutError(f"{where} timed out ({outcome})", sent=sent)
    if not sent:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        return APIConnectionError(f"could not connect for {where}: {reason} ({outcome})", sent=False)
    if isinstance(exc, http.client.IncompleteRead):
        return APIConnectionError(f"{where}: the response was cut short ({outcome})", sent=True)
    if isinstance(exc, (http.client.HTTPException, ValueError, OverflowError)) and not isinstance(exc, ConnectionError):
        return APIConnectionError(f"{where}: the server's answer is not valid HTTP ({type(exc).__name__})", sent=True)
    reason = getattr(exc, "strerror", None) or type(exc).__name__
    return APIConnectionError(f"{where} failed: {reason} ({outcome})", sent=True)
