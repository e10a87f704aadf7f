"""``Client``: configuration, the namespaces, and ``_request`` (bytes in, JSON out).

The client decides what a request carries (headers, token); the transport decides how
it travels. The transport module, and with it urllib, is imported on the first request.
"""

from __future__ import annotations

import os
import sys
from _thread import allocate_lock  # threading would cost an import; this lock is the same

from ._exceptions import ReplicateError, ReplicateException, StreamError, ValidationError, excerpt
from ._prediction import Predictions, _check_seconds
from ._urls import is_loopback, origin_of
from ._version import __version__

TYPE_CHECKING = False  # typing costs milliseconds to import: only type checkers read it
if TYPE_CHECKING:
    from typing import Any, AsyncIterator, Dict, Optional, Union

    from ._files import Files
    from ._sse import ServerSentEvent
    from ._streaming import EventStream
    from ._transport import Response, StreamResponse, Transport
    from ._webhooks import Webhooks

__all__ = ["DEFAULT_BASE_URL", "Client", "default_client"]

DEFAULT_BASE_URL = "https://api.replicate.com"
#: Hosts under these domains may receive the token over HTTPS (stream and file URLs live there).
TOKEN_DOMAINS = ("replicate.com", "replicate.net", "replicate.delivery")
_UNSET: Any = object()


def normalize_base_url(url: object, *, allow_http: bool) -> str:
    """Validates a base URL and strips a trailing ``/`` or ``/v1`` (paths carry ``/v1``)."""
    if not isinstance(url, str):
        raise TypeError(f"base_url must be a string, got {excerpt(url)}")
    from urllib.parse import urlsplit

    url = url.strip().rstrip("/")
    if url.endswith("/v1"):
        url = url[:-3]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an http(s) URL such as {DEFAULT_BASE_URL!r}, got {url!r}")
    if parts.scheme == "http" and not allow_http and not is_loopback(parts.hostname):
        raise ValueError(
            f"base_url {url!r} is plain http to a host that is not loopback, which would send the "
            "API token unencrypted; use https, or pass allow_http=True if you really mean it"
        )
    return url


def error_from_response(status: int, body: bytes) -> ReplicateError:
    """A ``ReplicateError`` from an error response: problem+json fields, else a short excerpt."""
    import json

    text = body[:4096].decode("utf-8", "replace")
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        fields = {
            name: data[name] if isinstance(data.get(name), str) else None
            for name in ("type", "title", "detail", "instance")
        }
        return ReplicateError(status=status, body=text, **fields)
    snippet = " ".join(text.split())[:200]
    return ReplicateError(status=status, detail=snippet or None, body=text)


def decode_json(status: int, body: bytes, url: str) -> Any:
    """The decoded body of a response; raises ``ReplicateError`` for an error status.

    A 3xx that reached here was not followed (a redirected POST), so it is an error too.
    """
    if status >= 300:
        raise error_from_response(status, body)
    if status == 204 or not body:
        return None
    import json

    try:
        return json.loads(body)
    except ValueError as exc:
        raise ValidationError(
            f"the response from {url} (status {status}) is not valid JSON: {excerpt(body[:200])}", value=body[:200]
        ) from exc


class Client:
    """A Replicate API client. Thread-safe; one client may serve many threads and event loops.

    Args:
        api_token: the API token; else ``REPLICATE_API_TOKEN``, read at each request.
        base_url: else ``REPLICATE_BASE_URL``, else ``https://api.replicate.com``
            (a trailing ``/v1`` is accepted).
        timeout: seconds to wait for the server's next bytes (the read timeout);
            ``None`` waits forever. ``Prefer: wait`` creates stretch it as needed.
        connect_timeout: seconds to open a connection.
        poll_interval: seconds between polls in ``wait()``; else
            ``REPLICATE_POLL_INTERVAL``, else 0.5.
        user_agent: replaces the ``User-Agent`` header.
        max_retries: how often a failed request may be retried (0 disables retries).
        retry_backoff: the first retry's delay in seconds; it doubles each time, with jitter.
        ssl_context: an ``ssl.SSLContext`` for HTTPS; else the system's verified default.
        proxy: a proxy URL for every request; else ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``.
        allow_http: permit a plain ``http://`` base URL to a host that is not loopback.
        stream_idle_timeout: seconds an event stream may stay silent (not even a
            keep-alive comment) before it is reconnected.
    """

    def __init__(
        self,
        api_token: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        timeout: Optional[float] = 30.0,
        connect_timeout: Optional[float] = 10.0,
        poll_interval: Optional[float] = None,
        user_agent: Optional[str] = None,
        max_retries: int = 3,
        retry_backoff: float = 0.5,
        ssl_context: Any = None,
        proxy: Optional[str] = None,
        allow_http: bool = False,
        stream_idle_timeout: Optional[float] = 60.0,
    ) -> None:
        if api_token is not None and not isinstance(api_token, str):
            raise TypeError("api_token must be a string")
        self._api_token = api_token or None
        if base_url is None:
            base_url = os.environ.get("REPLICATE_BASE_URL") or DEFAULT_BASE_URL
        self.base_url = normalize_base_url(base_url, allow_http=allow_http)
        self._base_origin = origin_of(self.base_url)
        self._base_prefix = self.base_url + "/"
        for name, value in (("timeout", timeout), ("connect_timeout", connect_timeout)):
            if value is not None:
                _check_seconds(name, value)
        if stream_idle_timeout is not None:
            _check_seconds("stream_idle_timeout", stream_idle_timeout)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.stream_idle_timeout = stream_idle_timeout
        if poll_interval is None:
            env = os.environ.get("REPLICATE_POLL_INTERVAL")
            try:
                poll_interval = float(env) if env else 0.5
            except ValueError:
                raise ValueError(f"REPLICATE_POLL_INTERVAL must be a number of seconds, got {env!r}") from None
        _check_seconds("poll_interval", poll_interval)
        self.poll_interval = float(poll_interval)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be a whole number, 0 or more, got {excerpt(max_retries)}")
        self.max_retries = max_retries
        _check_seconds("retry_backoff", retry_backoff)
        self.retry_backoff = float(retry_backoff)
        if user_agent is not None and not isinstance(user_agent, str):
            raise TypeError("user_agent must be a string")
        if proxy is not None and not isinstance(proxy, str):
            raise TypeError("proxy must be a URL string")
        self._ssl_context = ssl_context
        self._proxy = proxy
        version = sys.version_info
        self._headers = {
            "User-Agent": user_agent or f"replicate-min/{__version__} (Python {version[0]}.{version[1]})",
            "Accept": "application/json",
        }
        self._transport: Optional[Transport] = None
        self._lock = allocate_lock()
        self.predictions = Predictions(self)
        self._files: Optional[Files] = None
        self._webhooks: Optional[Webhooks] = None

    def __repr__(self) -> str:
        return f"<Client base_url={self.base_url!r}>"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Closes idle pooled connections. The client stays usable."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    @property
    def files(self) -> Files:
        """``client.files``: upload, fetch and delete files."""
        if self._files is None:
            from ._files import Files

            self._files = Files(self)
        return self._files

    @property
    def webhooks(self) -> Webhooks:
        """``client.webhooks``: the signing secret, and ``validate``."""
        if self._webhooks is None:
            from ._webhooks import Webhooks

            self._webhooks = Webhooks(self)
        return self._webhooks

    @property
    def transport(self) -> Transport:
        transport = self._transport
        if transport is None:
            with self._lock:
                if self._transport is None:
                    from ._transport import Transport

                    self._transport = Transport(
                        connect_timeout=self.connect_timeout,
                        read_timeout=self.timeout,
                        ssl_context=self._ssl_context,
                        proxy=self._proxy,
                        max_retries=self.max_retries,
                        retry_backoff=self.retry_backoff,
                    )
                transport = self._transport
        return transport

    def may_send_token(self, url: str) -> bool:
        """True if ``url`` may receive the token.

        That is the base URL's origin, and HTTPS (port 443) under Replicate's domains.
        """
        if url.startswith(self._base_prefix):
            return True
        origin = origin_of(url)
        if origin == self._base_origin:
            return True
        scheme, host, port = origin
        return scheme == "https" and port == 443 and any(host == d or host.endswith("." + d) for d in TOKEN_DOMAINS)

    def _token(self) -> str:
        token = self._api_token or os.environ.get("REPLICATE_API_TOKEN")
        if not token:
            raise ReplicateException(
                "No API token: pass api_token= to Client or set the REPLICATE_API_TOKEN environment variable"
            )
        return token

    def _headers_for(self, url: str, extra: Optional[dict[str, str]] = None) -> dict[str, str]:
        headers = dict(self._headers)
        if extra:
            headers.update(extra)
        if self.may_send_token(url):
            headers["Authorization"] = f"Bearer {self._token()}"
        return headers

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("https://", "http://")):
            return path_or_url
        return self.base_url + path_or_url

    def _request(
        self,
        method: str,
        path_or_url: str,
        *,
        body: Optional[bytes] = None,
        headers: Optional[dict[str, str]] = None,
        **options: Any,
    ) -> Any:
        """``_send`` with a JSON body (if any), returning the decoded JSON answer."""
        if body is not None:
            headers = {"Content-Type": "application/json", **(headers or {})}
        response = self._send(method, path_or_url, body=body, headers=headers, **options)
        return decode_json(response.status, response.body, response.url)

    def _send(
        self,
        method: str,
        path_or_url: str,
        *,
        body: Optional[bytes] = None,
        headers: Optional[dict[str, str]] = None,
        read_timeout: Optional[float] = None,
        resend_safe: bool = True,
    ) -> Response:
        """Sends a request and returns the whole response, whatever its status.

        ``resend_safe=False`` (creates) limits retries to those that cannot repeat the request.
        """
        url = self._url(path_or_url)
        return self.transport.send(  # type: ignore[no-any-return]
            method, url, self._headers_for(url, headers), body, resend_safe=resend_safe, read_timeout=read_timeout
        )

    def download(self, url: str) -> bytes:
        """The bytes behind an output URL.

        A ``data:`` URL is decoded locally. An ``http(s):`` URL is fetched; the token
        goes with it only where ``may_send_token`` allows (Replicate's own hosts).

        Raises:
            ReplicateError: the server answered with an error status.
        """
        if not isinstance(url, str):
            raise TypeError(f"url must be a string, got {excerpt(url)}")
        if url.startswith("data:"):
            from ._files import decode_data_url

            return decode_data_url(url)
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"url must be a data:, https: or http: URL, got {url[:40]!r}")
        response = self._send("GET", url, headers={"Accept": "*/*"})
        if response.status >= 300:
            raise error_from_response(response.status, response.body)
        return response.body

    async def async_download(self, url: str) -> bytes:
        """Async ``download``."""
        import asyncio

        return await asyncio.to_thread(self.download, url)

    # -- run and stream ------------------------------------------------------------

    def run(
        self,
        ref: str,
        input: Optional[Dict[str, Any]] = None,
        *,
        wait: Union[bool, int] = True,
        timeout: Optional[float] = None,
        use_file_output: Optional[bool] = None,
        **params: Any,
    ) -> Any:
        """Runs a model and returns its output once the prediction has finished.

        Args:
            ref: ``owner/name`` (the models endpoint), ``owner/name:version`` or a bare
                64-hex version id. No request is spent looking the version up.
            input: the model's inputs; files (``Path``, binary files, ``bytes``) are encoded.
            wait: hold the create request open up to 60 s (``True``) or N seconds; an
                answer that is not finished yet is then polled to the end. ``False`` polls.
            timeout: overall seconds; past it ``WaitTimeoutError`` (the prediction keeps
                running: pass ``cancel_after=`` to bound it on the server).
            use_file_output: accepted for compatibility; outputs are always plain JSON
                (see ``Client.download`` for file URLs).
            params: any other ``predictions.create`` argument.

        Raises:
            ModelError: the prediction failed. PredictionCanceledError: it was canceled or
            aborted. WaitTimeoutError: ``timeout`` passed.
        """
        from ._run import run

        return run(self, ref, input, wait, timeout, params)

    async def async_run(
        self,
        ref: str,
        input: Optional[Dict[str, Any]] = None,
        *,
        wait: Union[bool, int] = True,
        timeout: Optional[float] = None,
        use_file_output: Optional[bool] = None,
        **params: Any,
    ) -> Any:
        """Async ``run``: waits on the event loop between polls, holding no thread."""
        from ._run import async_run

        return await async_run(self, ref, input, wait, timeout, params)

    def stream(
        self, ref: str, input: Optional[Dict[str, Any]] = None, *, use_file_output: Optional[bool] = None, **params: Any
    ) -> EventStream:
        """Creates a prediction and streams its events (see ``Prediction.stream``); ends after ``done``."""
        from ._run import parse_ref

        prediction = self.predictions.create(input=input, **parse_ref(ref), **params)
        return prediction.stream()

    def async_stream(
        self, ref: str, input: Optional[Dict[str, Any]] = None, *, use_file_output: Optional[bool] = None, **params: Any
    ) -> AsyncIterator[ServerSentEvent]:
        """Async ``stream``: ``async for event in client.async_stream(...)``, on a thread of its own."""
        from ._streaming import iterate_in_thread

        return iterate_in_thread(lambda: self.stream(ref, input, **params))

    def _open_stream(self, url: str, headers: dict[str, str], idle_timeout: Optional[float]) -> StreamResponse:
        """Opens an event stream; raises ``ReplicateError`` for an error status, ``StreamError`` if it is not SSE."""
        extra = {"Accept": "text/event-stream", "Cache-Control": "no-store", **headers}
        response: StreamResponse = self.transport.send(
            "GET", url, self._headers_for(url, extra), resend_safe=True, read_timeout=idle_timeout, stream=True
        )
        if response.status >= 400:
            try:
                body = response.read()
            finally:
                response.close()
            raise error_from_response(response.status, body)
        content_type = response.headers.get("content-type") or ""
        if content_type.split(";")[0].strip().lower() != "text/event-stream":
            response.close()
            raise StreamError(f"expected an event stream from {url}, got content type {content_type!r}")
        return response


_default: Optional[Client] = None
_default_lock = allocate_lock()


def default_client() -> Client:
    """The module-level client behind ``replicate_min.predictions``, created on first use."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Client()
    return _default
