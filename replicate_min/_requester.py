"""The requester: the layer between the resources and the transport.

It owns the validated configuration (``Settings``), the token policy (which URLs may
receive the token), JSON in and out, and the mapping of error statuses to exceptions.
The resources (``_prediction``, ``_files``, ``_webhooks``, ``_streaming``) call it and
never ``Client``; ``Client`` is the facade above them. The transport, and with it
urllib, is imported on the first request; the worker threads of the async twins are
started on the first async call.
"""

from __future__ import annotations

import os
import re
import sys
from _thread import allocate_lock  # threading's Lock, without importing threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Dict, Mapping, Optional, Tuple, TypeVar, Union

from . import _fork
from ._defaults import (
    DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_RESPONSE_SIZE,
    DEFAULT_MAX_RETRIES,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRY_BACKOFF,
    DEFAULT_STREAM_IDLE_TIMEOUT,
    MAX_JSON_CONTAINERS,
    MAX_JSON_DEPTH,
)
from ._exceptions import ReplicateError, ReplicateException, ValidationError, excerpt, nests_deeper
from ._lazy import Deferred
from ._urls import is_loopback, origin_of, shown_url, url_problem
from ._version import __version__

if TYPE_CHECKING:  # the transport imports urllib: only on the first request
    from typing import Protocol

    from typing_extensions import Concatenate, ParamSpec  # typing's own from 3.10; for the checkers only

    from . import _retry, _transport
    from ._workers import Workers

    P = ParamSpec("P")

    class _Resource(Protocol):
        _requester: Requester

else:  # hints name them through modules imported when a hint is resolved, not with this one
    _retry = Deferred(f"{__package__}._retry")
    _transport = Deferred(f"{__package__}._transport")


__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_RESPONSE_SIZE",
    "USE_CLIENT_DEFAULT",
    "Requester",
    "Settings",
    "UseClientDefault",
    "async_twin",
    "check_seconds",
    "default_requester",
]

T = TypeVar("T")
R = TypeVar("R", bound="_Resource")

#: Hosts under these domains may receive the token over HTTPS (stream and file URLs live there).
TOKEN_DOMAINS = ("replicate.com", "replicate.net", "replicate.delivery")


class Cancel:
    """Set from any thread: breaks the connection a call is using (while it connects,
    waits or reads) and stops its retries. One per call, or per stream across reconnects."""

    def __init__(self) -> None:
        import threading  # streams only: not on a plain request's path

        self._event = threading.Event()
        self._lock = allocate_lock()
        self._lease: Any = None

    def set(self) -> None:
        self._event.set()
        with self._lock:
            lease = self._lease
        if lease is not None:
            lease.abort()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleeps ``seconds``, or less if set meanwhile; True if set."""
        return self._event.wait(seconds)

    def watch(self, lease: Any) -> None:
        """The transport's connection for the call now (``lease.abort()`` breaks it)."""
        with self._lock:
            self._lease = lease
        if self._event.is_set():
            lease.abort()


class UseClientDefault:
    """The type of ``USE_CLIENT_DEFAULT``: "take the client's setting" for a per-call option.

    ``None`` is never that: where a time is asked for, ``None`` always means no limit.
    """

    _instance: Optional[UseClientDefault] = None

    def __new__(cls) -> UseClientDefault:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "USE_CLIENT_DEFAULT"

    def __reduce__(self) -> str:
        return "USE_CLIENT_DEFAULT"


USE_CLIENT_DEFAULT = UseClientDefault()


#: The longest any number of seconds may be (about 31 years): past it ``time.sleep``, socket
#: timeouts and lock waits overflow.
MAX_SECONDS = 1e9


def check_seconds(name: str, value: Any, *, allow_none: bool = False, positive: bool = False) -> Optional[float]:
    """``value`` as seconds: a finite number, zero or more (above zero if ``positive``: a socket
    timeout of 0 would make it non-blocking), at most ``MAX_SECONDS``; ``None`` too, where allowed."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        none = " or None (no limit)" if allow_none else ""
        raise TypeError(f"{name} must be a number of seconds{none}, got {excerpt(value)}")
    try:
        seconds = float(value)
    except OverflowError:  # an int past float's range
        seconds = float("inf")
    if not (0 < seconds if positive else 0 <= seconds) or not seconds <= MAX_SECONDS:
        least = "above 0" if positive else "0 or more"
        raise ValueError(
            f"{name} must be a number of seconds, {least} and at most {MAX_SECONDS:g}, got {excerpt(value)}"
        )
    return seconds


def _check_count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number, got {excerpt(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be {minimum} or more, got {excerpt(value)}")
    return int(value)


def check_header_value(name: str, value: Any) -> str:
    """A header value the caller gave: text of visible ASCII, spaces and tabs, nothing else.

    The message names the position and the character, never the value: it may be secret.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    for position, character in enumerate(value):
        if not (" " <= character <= "~" or character == "\t"):
            raise ValueError(f"{name} has a forbidden character {_describe(character)} at position {position}")
    return value


_VISIBLE_ASCII = re.compile("[!-~]+")


def check_token(token: str) -> str:
    """The API token without surrounding whitespace (a newline from a file or an env var).

    Raises:
        ValueError: a character inside it is not visible ASCII; the message says which
        character and where, and never contains the token.
    """
    token = token.strip()
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        raise ValueError(
            "the API token is wrapped in quotes (pasted with them?): remove the quotes around it"
        )  # the token itself is never shown
    if _VISIBLE_ASCII.fullmatch(token) or not token:
        return token
    for position, character in enumerate(token):
        if not "!" <= character <= "~":
            raise ValueError(
                f"the API token has a forbidden character {_describe(character)} at position {position}; "
                "a token is visible ASCII only (check how it was copied)"
            )
    return token


def _describe(character: str) -> str:
    names = {"\n": "line feed", "\r": "carriage return", "\t": "tab", " ": "space", "\0": "NUL"}
    code = f"U+{ord(character):04X}"
    return f"{code} ({names[character]})" if character in names else code


def normalize_base_url(value: Any, *, allow_http: bool) -> str:
    """Validates a base URL and strips a trailing ``/`` or ``/v1`` (paths carry ``/v1``)."""
    if not isinstance(value, str):
        raise TypeError(f"base_url must be a string, got {shown_url(value)}")
    from urllib.parse import urlsplit

    url = value.strip().rstrip("/")
    authority = url.partition("://")[2].partition("/")[0].partition("?")[0].partition("#")[0]
    if "@" in authority:  # said before anything that shows the URL: the password is never echoed
        raise ValueError(
            "base_url must not contain a user name or password (user:password@host); "
            "pass the API token as api_token= and a proxy's credentials in proxy="
        )
    if url.endswith("/v1"):
        url = url[:-3]
    problem = url_problem(url)
    parts = urlsplit(url) if problem is None else None
    if parts is not None and (parts.query or parts.fragment):
        problem = "it has a query or fragment"
    if problem is not None:
        shown = shown_url(url)
        raise ValueError(f"base_url must be an http(s) URL such as {DEFAULT_BASE_URL!r} ({problem}), got {shown}")
    assert parts is not None
    if parts.scheme == "http" and not allow_http and not is_loopback(parts.hostname or ""):
        raise ValueError(
            f"base_url {url!r} is plain http to a host that is not loopback, which would send the "
            "API token unencrypted; use https, or pass allow_http=True if you really mean it"
        )
    return url


@dataclass(frozen=True, eq=False)  # compared by identity: a change makes a new one
class Settings:
    """A client's configuration, validated as a whole. Build one with ``Settings.build``.

    Times are seconds; ``None`` means no limit. ``read_timeout`` is the longest wait
    for the server's next bytes, never an overall deadline.
    """

    base_url: str = DEFAULT_BASE_URL
    api_token: Optional[str] = field(default=None, repr=False)
    read_timeout: Optional[float] = DEFAULT_READ_TIMEOUT
    connect_timeout: Optional[float] = DEFAULT_CONNECT_TIMEOUT
    poll_interval: float = DEFAULT_POLL_INTERVAL
    user_agent: str = f"replicate-min/{__version__} (Python {sys.version_info[0]}.{sys.version_info[1]})"
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_backoff: float = DEFAULT_RETRY_BACKOFF
    stream_idle_timeout: Optional[float] = DEFAULT_STREAM_IDLE_TIMEOUT
    max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    headers: Mapping[str, str] = field(default_factory=dict)
    allow_http: bool = False
    proxy: Optional[str] = field(default=None, repr=False)  # it may hold the proxy's password
    ssl_context: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.allow_http, bool):  # plain http sends the token unencrypted: no truthiness
            raise TypeError(f"allow_http must be True or False, got {excerpt(self.allow_http)}")
        set_(self, "base_url", normalize_base_url(self.base_url, allow_http=self.allow_http))
        if self.api_token is not None:
            if not isinstance(self.api_token, str):
                raise TypeError("api_token must be a string")
            set_(self, "api_token", check_token(self.api_token) or None)
        for name in ("read_timeout", "connect_timeout", "stream_idle_timeout"):
            set_(self, name, check_seconds(name, getattr(self, name), allow_none=True, positive=True))
        set_(self, "poll_interval", check_seconds("poll_interval", self.poll_interval))
        set_(self, "retry_backoff", check_seconds("retry_backoff", self.retry_backoff))
        _check_count("max_retries", self.max_retries, 0)
        _check_count("max_response_size", self.max_response_size, 1024)
        _check_count("max_concurrency", self.max_concurrency, 1)
        check_header_value("user_agent", self.user_agent)
        if not isinstance(self.headers, Mapping):
            raise TypeError(f"headers must be a mapping of names to values, got {excerpt(self.headers)}")
        for name, value in self.headers.items():
            if not isinstance(name, str) or not name or not all("!" <= c <= "~" and c != ":" for c in name):
                raise ValueError(f"header name {excerpt(name)} is not a valid HTTP header name")
            if name.lower() in ("authorization", "proxy-authorization", "host", "content-length"):
                raise ValueError(f"the {name} header is set by the client and cannot be overridden")
            check_header_value(f"the value of header {name!r}", value)
        set_(self, "headers", dict(self.headers))
        if self.proxy is not None:
            _check_proxy(self.proxy)
        if self.ssl_context is not None:
            import ssl  # the caller made a context: ssl is loaded already

            if not isinstance(self.ssl_context, ssl.SSLContext):
                raise TypeError(f"ssl_context must be an ssl.SSLContext, got {excerpt(self.ssl_context)}")

    @classmethod
    def build(
        cls,
        *,
        api_token: Optional[str] = None,
        base_url: Optional[str] = None,
        poll_interval: Optional[float] = None,
        user_agent: Optional[str] = None,
        **options: Any,
    ) -> Settings:
        """Settings from arguments, falling back on ``REPLICATE_BASE_URL`` and ``REPLICATE_POLL_INTERVAL``.

        ``REPLICATE_API_TOKEN`` is read at each request instead, so it may be set later.
        """
        if base_url is None:
            base_url = os.environ.get("REPLICATE_BASE_URL") or DEFAULT_BASE_URL
            where = "the REPLICATE_BASE_URL environment variable"
        else:
            where = "base_url"
        if poll_interval is None:
            text = os.environ.get("REPLICATE_POLL_INTERVAL") or ""
            try:
                poll_interval = float(text) if text else DEFAULT_POLL_INTERVAL
            except ValueError:
                raise ValueError(
                    f"the REPLICATE_POLL_INTERVAL environment variable must be a number of seconds, got {text[:40]!r}"
                ) from None
        if user_agent is not None:
            options["user_agent"] = user_agent
        try:
            return cls(base_url=base_url, api_token=api_token, poll_interval=poll_interval, **options)
        except ValueError as exc:
            if where != "base_url" and "base_url" in str(exc):
                raise ValueError(str(exc).replace("base_url", where, 1)) from None
            raise


class Requester:
    """Sends requests for the resources: headers, token, JSON, and errors as exceptions.

    Thread-safe. ``settings`` may be replaced at any time (``update``); every request
    reads the settings it needs when it starts, so a change applies to the next one.
    The transport's own settings (``connect_timeout``, ``proxy``, ``ssl_context``,
    ``max_concurrency``) shape its connection pool and are fixed once it exists.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._transport: Optional[_transport.Transport] = None
        self._workers: Optional[Workers] = None
        self._lock = allocate_lock()
        self._sightings: Dict[str, None] = {}  # recent unknown statuses, oldest first
        self._retries: Optional[Tuple[Settings, _retry.RetryPolicy]] = None
        _fork.track(self)

    def _after_fork_in_child(self) -> None:
        self._lock = allocate_lock()  # another of the parent's threads may have held it

    def __repr__(self) -> str:
        return f"<Requester base_url={self.settings.base_url!r}>"

    def first_sight(self, status: str) -> bool:
        """True the first time this client sees ``status`` (of the last 32 it remembers)."""
        with self._lock:
            new = self._sightings.pop(status, 0) == 0
            self._sightings[status] = None
            if len(self._sightings) > 32:
                del self._sightings[next(iter(self._sightings))]
            return new

    def update(self, **changes: Any) -> None:
        """Replaces settings (validated as a whole); applies to the next request."""
        with self._lock:
            fixed = {"connect_timeout", "proxy", "ssl_context", "max_concurrency"} & changes.keys()
            if fixed and self._transport is not None:
                raise AttributeError(f"{', '.join(sorted(fixed))} cannot change once the client has sent a request")
            self.settings = replace(self.settings, **changes)

    # -- the transport and the workers, made on first use -----------------------------

    @property
    def transport(self) -> _transport.Transport:
        transport = self._transport
        if transport is None:
            with self._lock:
                if self._transport is None:
                    from ._transport import Transport

                    settings = self.settings
                    self._transport = Transport(
                        connect_timeout=settings.connect_timeout,
                        ssl_context=settings.ssl_context,
                        proxy=settings.proxy,
                        max_connections=settings.max_concurrency,
                    )
                transport = self._transport
        return transport

    @property
    def workers(self) -> Workers:
        """The threads the async twins run on: started on demand, retired when idle."""
        workers = self._workers
        if workers is None:
            with self._lock:
                if self._workers is None:
                    from ._workers import Workers

                    self._workers = Workers(self.settings.max_concurrency)
                workers = self._workers
        return workers

    def close(self) -> None:
        """Closes idle pooled connections; the requester stays usable."""
        with self._lock:
            transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()

    async def run_async(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``function(*args, **kwargs)`` on a worker thread, with the caller's context (as ``asyncio.to_thread``)."""
        from ._workers import run_in_worker

        return await run_in_worker(self.workers, function, *args, **kwargs)

    # -- the token policy --------------------------------------------------------------

    def token(self) -> str:
        """The token from the settings, else ``REPLICATE_API_TOKEN`` (read now), checked."""
        token: Optional[str] = self.settings.api_token
        if token is None:
            token = check_token(os.environ.get("REPLICATE_API_TOKEN") or "")
        if not token:
            raise ReplicateException(
                "No API token: set the REPLICATE_API_TOKEN environment variable (or pass api_token= to Client)"
            )
        return token

    def may_send_token(self, url: str) -> bool:
        """True if ``url`` may receive the token: the base URL's origin, and HTTPS
        (port 443) under Replicate's own domains (stream and file URLs live there)."""
        base_url = self.settings.base_url
        if url.startswith(base_url + "/"):
            return True
        origin = origin_of(url)
        if origin == origin_of(base_url):
            return True
        scheme, host, port = origin
        return scheme == "https" and port == 443 and any(host == d or host.endswith("." + d) for d in TOKEN_DOMAINS)

    def url(self, path_or_url: str) -> str:
        """An absolute URL: a path is joined to the base URL; a URL must be http(s)."""
        if path_or_url.startswith("/"):
            return self.settings.base_url + path_or_url
        check_url("url", path_or_url)
        return path_or_url

    def _headers(self, url: str, extra: Optional[Mapping[str, str]]) -> Dict[str, str]:
        """The headers of a request, all but ``Authorization`` (``authorization`` adds it)."""
        settings = self.settings
        headers = {"User-Agent": settings.user_agent, "Accept": "application/json", **settings.headers}
        if extra:
            headers.update(extra)
        if settings.api_token is None and self.may_send_token(url):
            self.token()  # a missing or malformed env token fails here, before anything is sent
        return headers

    def authorization(self, url: str) -> Optional[str]:
        """The ``Authorization`` value for ``url``, or None where the token may not go.

        The transport asks at each hop of a request, so a redirect that leaves
        Replicate's hosts loses the token, and no frame keeps it for longer than a send.
        """
        return "Bearer " + self.token() if self.may_send_token(url) else None

    # -- requests ----------------------------------------------------------------------

    def send(
        self,
        method: str,
        path_or_url: str,
        *,
        content: Optional[bytes] = None,
        headers: Optional[Mapping[str, str]] = None,
        read_timeout: Union[float, UseClientDefault, None] = USE_CLIENT_DEFAULT,
        deadline: Optional[float] = None,
        idempotent: bool = True,
        retry: Optional[_retry.RetryPolicy] = None,
    ) -> _transport.Response:
        """Sends a request and returns the whole response, whatever its status.

        ``idempotent=False`` (creates, uploads) limits retries to those that cannot
        repeat the request. ``deadline`` is a ``time.monotonic()`` value bounding the call.
        ``retry`` replaces the client's retry policy for this call (a batch, which paces
        and retries on its own, sends with ``RetryPolicy(max_retries=0)``).
        """
        settings = self.settings
        url = self.url(path_or_url)
        return self.transport.send(
            method,
            url,
            self._headers(url, headers),
            content,
            idempotent=idempotent,
            retry=self._retry_policy(settings) if retry is None else retry,
            read_timeout=settings.read_timeout if isinstance(read_timeout, UseClientDefault) else read_timeout,
            deadline=deadline,
            max_body=settings.max_response_size,
            authorize=self.authorization,
        )

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        json: Any = None,
        headers: Optional[Mapping[str, str]] = None,
        read_timeout: Union[float, UseClientDefault, None] = USE_CLIENT_DEFAULT,
        deadline: Optional[float] = None,
        idempotent: bool = True,
    ) -> Any:
        """``send`` with a JSON body (unless ``json`` is None), returning the decoded JSON answer.

        Raises:
            ReplicateError: an error status (or a redirect that was not followed).
            ValidationError: a success whose body is not JSON.
        """
        content = None
        if json is not None:
            content = encode_json(json, "the request body")
            headers = {"Content-Type": "application/json", **(headers or {})}
        response = self.send(
            method,
            path_or_url,
            content=content,
            headers=headers,
            read_timeout=read_timeout,
            deadline=deadline,
            idempotent=idempotent,
        )
        return decode_json(response.status, response.body, response.url)

    def open_get(
        self,
        url: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        read_timeout: Union[float, UseClientDefault, None] = USE_CLIENT_DEFAULT,
        deadline: Optional[float] = None,
        cancel: Optional[Cancel] = None,
    ) -> _transport.StreamResponse:
        """GETs ``url`` (token policy applied) and returns the answer with its body unread.

        ``cancel`` breaks the call from any thread, even while it connects or waits to retry.

        Raises:
            ReplicateError: an error status (the answer's body, at most 1 MiB, is read for it).
        """
        settings = self.settings
        url = self.url(url)
        response = self.transport.open_stream(
            url,
            self._headers(url, headers),
            retry=self._retry_policy(settings),
            read_timeout=settings.read_timeout if isinstance(read_timeout, UseClientDefault) else read_timeout,
            deadline=deadline,
            authorize=self.authorization,
            cancel=cancel,
        )
        if response.status >= 300:
            try:
                body = response.read(min(settings.max_response_size, 1 << 20))
            finally:
                response.close()
            raise error_from_response(response.status, body)
        return response

    def open_stream(
        self,
        url: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        idle_timeout: Union[float, UseClientDefault, None] = USE_CLIENT_DEFAULT,
        deadline: Optional[float] = None,
        cancel: Optional[Cancel] = None,
    ) -> _transport.StreamResponse:
        """Opens an event stream.

        Raises:
            ReplicateError: an error status. StreamError: the answer is not an event stream.
        """
        from ._exceptions import StreamError

        settings = self.settings
        response = self.open_get(
            url,
            headers={"Accept": "text/event-stream", "Cache-Control": "no-store", **(headers or {})},
            read_timeout=settings.stream_idle_timeout if isinstance(idle_timeout, UseClientDefault) else idle_timeout,
            deadline=deadline,
            cancel=cancel,
        )
        content_type = response.headers.get("content-type") or ""
        if content_type.split(";")[0].strip().lower() != "text/event-stream":
            response.close()
            raise StreamError(f"expected an event stream from {url!r}, got content type {content_type[:80]!r}")
        return response

    def _retry_policy(self, settings: Settings) -> _retry.RetryPolicy:
        """The retry policy of ``settings``, made once per settings (a frozen value)."""
        made = self._retries
        if made is None or made[0] is not settings:
            from ._retry import RetryPolicy

            made = self._retries = (
                settings,
                RetryPolicy(max_retries=settings.max_retries, backoff=settings.retry_backoff),
            )
        return made[1]


def _check_proxy(proxy: Any) -> None:
    """A proxy URL, ``[http(s)://][user:password@]host:port``: its host and port by the one
    URL rule. The user info is split off at the last ``@``, as urllib does, so a password may
    hold ``#``, ``?`` or ``[``; the scheme's case does not matter."""
    if not isinstance(proxy, str):
        raise TypeError(f"proxy must be a URL string such as 'http://proxy:3128', got {shown_url(proxy)}")
    scheme, _, rest = proxy.partition("://") if "://" in proxy else ("http", "", proxy)
    userinfo, _, authority = rest.rpartition("@")
    if scheme.lower() not in ("http", "https"):
        problem: Optional[str] = "it is not an http(s) URL"
    elif userinfo and (not userinfo.isprintable() or any(character.isspace() for character in userinfo)):
        problem = "its user name or password holds spaces or control characters"
    else:
        problem = url_problem(f"{scheme.lower()}://{authority}")
    if problem is not None:
        example = "'http://proxy:3128'"
        raise ValueError(f"proxy must be an http(s) URL such as {example} ({problem}), got {shown_url(proxy)}")


def check_caller_url(name: str, url: Any) -> str:
    """A caller's ``url`` if ``_urls.url_problem`` finds nothing wrong with it, else
    ``TypeError`` (not a string) or ``ValueError``."""
    if not isinstance(url, str):
        raise TypeError(f"{name} must be an http(s) URL string, got {shown_url(url)}")
    problem = url_problem(url)
    if problem is not None:
        raise ValueError(f"{name} must be an http(s) URL ({problem}), got {shown_url(url)}")
    return url


def check_url(name: str, url: Any) -> str:
    """A URL from the server if ``_urls.url_problem`` finds nothing wrong with it, else ``ValidationError``."""
    problem = url_problem(url) if isinstance(url, str) else "it is not a string"
    if problem is None:
        return str(url)
    raise ValidationError(f"{name} must be an http(s) URL ({problem}), got {excerpt(url)}", field=name, value=url)


def encode_json(value: Any, what: str) -> bytes:
    """``value`` as compact JSON bytes; ``TypeError`` for what JSON cannot hold (NaN, cycles, objects)."""
    import json

    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":")).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        reason = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise TypeError(f"{what} must be JSON-serializable: {reason}") from None


#: A body's deepest nesting: an input's or output's own ``MAX_JSON_DEPTH`` levels inside a
#: page (the page, its results and the prediction around them).
_BODY_DEPTH = MAX_JSON_DEPTH + 3


def _loads(body: bytes) -> Tuple[bool, Any, str]:
    """``(True, value, "")`` for a JSON body the client accepts, else ``(False, None, why)``:
    not JSON, nested deeper than ``_BODY_DEPTH``, or more than ``MAX_JSON_CONTAINERS``
    objects and arrays (counted on the bytes first, so neither is decoded)."""
    import json

    containers = body.count(b"{") + body.count(b"[")  # brackets in strings too: an upper bound
    if containers > MAX_JSON_CONTAINERS:
        return False, None, f"it holds more than {MAX_JSON_CONTAINERS} objects and arrays"
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return False, None, "it is not valid JSON"
    if containers > _BODY_DEPTH and nests_deeper(data, _BODY_DEPTH):
        return False, None, f"it nests deeper than {_BODY_DEPTH} levels"
    return True, data, ""


def error_from_response(status: int, body: bytes) -> ReplicateError:
    """A ``ReplicateError`` from an error response: problem+json fields, else a short excerpt."""
    text = bytes(body[:4096]).decode("utf-8", "replace")
    ok, data, _ = _loads(body) if len(body) <= 1 << 20 else (False, None, "")
    if ok and isinstance(data, dict):
        fields = {
            name: _clean(data[name]) if isinstance(data.get(name), str) else None
            for name in ("type", "title", "detail", "instance")
        }
        return ReplicateError(status=status, body=text, **fields)
    snippet = _clean(" ".join(text.split())[:200])
    if 300 <= status < 400:
        snippet = (
            f"a {status} redirect was not followed (a create is never redirected; only http(s) targets are). {snippet}"
        )
    return ReplicateError(status=status, detail=snippet or None, body=text)


def _clean(text: str) -> str:
    """Server text for a message: control characters escaped, so no terminal or log is steered."""
    if text.isprintable():
        return text[:2000]
    return "".join(c if c.isprintable() or c == "\n" else repr(c)[1:-1] for c in text[:2000])


def decode_json(status: int, body: bytes, url: str) -> Any:
    """The decoded body of a response; raises ``ReplicateError`` for an error status.

    A 3xx that reached here was not followed (a redirected POST), so it is an error too.
    """
    if status >= 300:
        raise error_from_response(status, body)
    if status == 204 or not body:
        return None
    ok, data, why = _loads(body)
    if not ok:
        raise ValidationError(
            f"the response from {url!r} (status {status}) was refused: {why}: {excerpt(bytes(body[:200]))}",
            value=bytes(body[:200]),
        )
    return data


_default: Optional[Requester] = None
_default_lock = allocate_lock()


def default_requester() -> Requester:
    """The requester behind the default client (and behind predictions bound to no client)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Requester(Settings.build())
    return _default


def _new_default_lock() -> None:
    global _default_lock
    _default_lock = allocate_lock()


_fork.on_fork_in_child(_new_default_lock)


def reset_default_requester() -> None:
    """Forgets the default requester (tests; or after changing ``REPLICATE_*`` variables)."""
    global _default
    with _default_lock:
        requester, _default = _default, None
    if requester is not None:
        requester.close()


def async_twin(sync: Callable[Concatenate[R, P], T]) -> Callable[Concatenate[R, P], Coroutine[Any, Any, T]]:
    """The async twin of a resource's method: ``async_create = async_twin(create)``.

    It takes exactly the sync method's arguments (type checkers and ``inspect.signature``
    see them), and runs that method, as the instance spells it, on a worker thread with the
    caller's context. Arguments that do not fit raise ``TypeError`` naming the twin when it is
    awaited (an ``async def`` runs nothing before), before anything goes to a worker.
    """
    name = sync.__name__
    signature: Any = None

    async def twin(*args: Any, **kwargs: Any) -> T:
        nonlocal signature
        if signature is None:
            import inspect  # loaded already: dataclasses imports it

            signature = inspect.signature(sync)
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{twin.__qualname__}(): {exc}") from None
        resource, *rest = bound.args
        result: T = await resource._requester.run_async(getattr(resource, name), *rest, **bound.kwargs)
        return result

    twin.__wrapped__ = sync  # type: ignore[attr-defined]
    twin.__module__ = sync.__module__
    twin.__name__ = f"async_{name}"
    twin.__qualname__ = f"{sync.__qualname__.rpartition('.')[0]}.async_{name}"
    twin.__doc__ = f"Async ``{name}``: the same arguments, run on a worker thread."
    twin.__annotations__ = dict(sync.__annotations__)
    return twin
