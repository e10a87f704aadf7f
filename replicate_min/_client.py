"""``Client``: the facade above the resources: configuration, namespaces, ``run`` and ``stream``.

The layers, from the bottom: ``_transport`` (HTTP) <- ``_requester`` (settings, token,
JSON, errors) <- the resources (``_prediction``, ``_files``, ``_webhooks``,
``_streaming``) <- this module. Nothing below imports anything above it.
"""

from __future__ import annotations

import os
from _thread import allocate_lock  # threading's Lock, without importing threading
from functools import cached_property
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    Generic,
    Iterable,
    Mapping,
    NoReturn,
    Optional,
    Tuple,
    Type,
    TypeVar,
    Union,
    overload,
)

from . import _fork
from ._create import CreateRequest
from ._defaults import (
    DEFAULT_BATCH_CONCURRENCY,
    DEFAULT_BATCH_LOOKBACK,
    DEFAULT_BATCH_SETTLE,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_RETRY_BACKOFF,
    DEFAULT_STREAM_IDLE_TIMEOUT,
)
from ._lazy import Deferred
from ._prediction import Predictions, create_prediction
from ._requester import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_RESPONSE_SIZE,
    USE_CLIENT_DEFAULT,
    Requester,
    Settings,
    UseClientDefault,
    default_requester,
    reset_default_requester,
)
from ._run import deadline_for
from ._run import run as _run
from ._streaming import AsyncEventStream, EventStream
from ._urls import shown_url, url_problem

if TYPE_CHECKING:  # made on first use: most programs never ask for these namespaces
    from . import _batch
    from ._deployments import Deployments, Models
    from ._files import Files
    from ._webhooks import Webhooks

T = TypeVar("T")

if not TYPE_CHECKING:  # (get_type_hints of Client.batch loads _batch then, not with the client: threads, sqlite3)
    _batch = Deferred(f"{__package__}._batch")

__all__ = [
    "DEFAULT_BASE_URL",
    "Client",
    "async_run",
    "async_stream",
    "batch",
    "default_client",
    "get_default_client",
    "reset_default_client",
    "run",
    "stream",
]


class _Setting(Generic[T]):
    """A client setting, read from its requester's ``Settings``."""

    def __init__(self, name: str = "") -> None:
        self.name = name

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = self.name or name

    @overload
    def __get__(self, client: None, owner: type) -> _Setting[T]: ...

    @overload
    def __get__(self, client: Client, owner: type) -> T: ...

    def __get__(self, client: Optional[Client], owner: type) -> Union[T, _Setting[T]]:
        if client is None:
            return self
        value: T = getattr(client.requester.settings, self.name)
        return value


class _ReadOnly(_Setting[T]):
    """A setting fixed for the client's life (a type checker refuses an assignment too)."""

    def __set__(self, client: Client, value: NoReturn) -> None:
        raise AttributeError(f"{self.name} is read-only: make a new Client to change it")


class _Live(_Setting[T]):
    """A client setting that may be changed on a live client: validated, used by the next request."""

    def __set__(self, client: Client, value: T) -> None:
        client.requester.update(**{self.name: value})


class Client:
    """A Replicate API client. Thread-safe; one client may serve many threads and event loops.

    Args:
        api_token: the API token; else ``REPLICATE_API_TOKEN``, read at each request.
            Whitespace around it (a newline from a file) is stripped.
        base_url: else ``REPLICATE_BASE_URL``, else ``https://api.replicate.com``
            (a trailing ``/v1`` is accepted).
        read_timeout: seconds to wait for the server's next bytes (30 when not given);
            ``None`` waits forever. ``Prefer: wait`` creates stretch it as needed. It bounds each read,
            not a whole call: the ``timeout`` of ``wait()`` and ``run()`` does that.
        timeout: the earlier name of ``read_timeout``, kept as an alias; giving both
            is a ``TypeError``.
        connect_timeout: seconds to open a connection, or to wait for a free one.
        poll_interval: seconds between polls in ``wait()``; else
            ``REPLICATE_POLL_INTERVAL``, else 0.5.
        user_agent: replaces the ``User-Agent`` header.
        max_retries: how often a failed request may be retried (0 disables retries).
        retry_backoff: the first retry's delay in seconds; it doubles each time, with jitter.
        ssl_context: an ``ssl.SSLContext`` for HTTPS; else the system's verified default.
        proxy: a proxy URL for every request; else ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``.
        allow_http: permit a plain ``http://`` base URL to a host that is not loopback.
        stream_idle_timeout: seconds an event stream may stay silent (not even a
            keep-alive comment) before it is reconnected; ``None`` waits forever.
        max_response_size: the largest response body read, in bytes (100 MiB).
        max_concurrency: requests in flight at once: the worker threads of the async
            methods and the connections per host (512). A worker costs about 50 KB of
            memory while in use and retires after 10 s idle.
        headers: extra headers sent with every request (they cannot replace
            ``Authorization``).

    ``read_timeout``, ``poll_interval``, ``max_retries``, ``retry_backoff``,
    ``stream_idle_timeout`` and ``max_response_size`` may be changed on a live client;
    the change applies to the next request. The others are read-only.
    """

    def __init__(
        self,
        api_token: Optional[str] = None,
        *,
        base_url: Optional[str] = None,
        read_timeout: Union[float, UseClientDefault, None] = USE_CLIENT_DEFAULT,
        timeout: Union[float, UseClientDefault, None] = USE_CLIENT_DEFAULT,
        connect_timeout: Optional[float] = DEFAULT_CONNECT_TIMEOUT,
        poll_interval: Optional[float] = None,
        user_agent: Optional[str] = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_backoff: float = DEFAULT_RETRY_BACKOFF,
        ssl_context: Any = None,
        proxy: Optional[str] = None,
        allow_http: bool = False,
        stream_idle_timeout: Optional[float] = DEFAULT_STREAM_IDLE_TIMEOUT,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        if not isinstance(timeout, UseClientDefault):
            if not isinstance(read_timeout, UseClientDefault):
                raise TypeError("pass read_timeout or its older name timeout, not both")
            read_timeout = timeout
        if isinstance(read_timeout, UseClientDefault):
            read_timeout = DEFAULT_READ_TIMEOUT
        settings = Settings.build(
            api_token=api_token,
            base_url=base_url,
            poll_interval=poll_interval,
            user_agent=user_agent,
            read_timeout=read_timeout,
            connect_timeout=connect_timeout,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            ssl_context=ssl_context,
            proxy=proxy,
            allow_http=allow_http,
            stream_idle_timeout=stream_idle_timeout,
            max_response_size=max_response_size,
            max_concurrency=max_concurrency,
            headers={} if headers is None else headers,  # Settings checks and copies it
        )
        self._init(Requester(settings))

    def _init(self, requester: Requester) -> None:
        self.requester = requester
        self.predictions = Predictions(requester)

    @cached_property
    def files(self) -> Files:
        """``client.files``: upload, fetch and delete files (``/v1/files``)."""
        from ._files import Files

        return Files(self.requester)

    @cached_property
    def webhooks(self) -> Webhooks:
        """``client.webhooks``: the signing secret and ``validate``."""
        from ._webhooks import Webhooks

        return Webhooks(self.requester)

    @cached_property
    def models(self) -> Models:
        """``client.models.predictions.create(model="owner/name", input=...)``."""
        from ._deployments import Models

        return Models(self.requester)

    @cached_property
    def deployments(self) -> Deployments:
        """``client.deployments.get("owner/name")`` and ``client.deployments.predictions.create(...)``."""
        from ._deployments import Deployments

        return Deployments(self.requester)

    @classmethod
    def _over(cls, requester: Requester) -> Client:
        client = cls.__new__(cls)
        client._init(requester)
        return client

    def __repr__(self) -> str:
        return f"<Client base_url={self.base_url!r}>"

    def __reduce__(self) -> Any:
        # Its settings cross a process boundary; its pool, locks and threads do not. A token
        # read from REPLICATE_API_TOKEN is not in them: the copy reads the environment where
        # it lands. One passed as api_token= is, so such a pickle is a secret.
        return (_client_over_settings, (type(self), self.requester.settings))

    def __call__(self) -> Client:
        """Returns this client: code written for ``replicate_min.default_client()`` (when it was a
        function) keeps working now that ``replicate_min.default_client`` is the client itself."""
        return self

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Closes idle pooled connections. The client stays usable."""
        self.requester.close()

    # -- configuration: read-only, or applied at once ----------------------------------

    base_url: _ReadOnly[str] = _ReadOnly()
    connect_timeout: _ReadOnly[Optional[float]] = _ReadOnly()
    max_concurrency: _ReadOnly[int] = _ReadOnly()
    read_timeout: _Live[Optional[float]] = _Live()
    timeout: _Live[Optional[float]] = _Live("read_timeout")  # the earlier name
    poll_interval: _Live[float] = _Live()
    max_retries: _Live[int] = _Live()
    retry_backoff: _Live[float] = _Live()
    stream_idle_timeout: _Live[Optional[float]] = _Live()
    max_response_size: _Live[int] = _Live()

    def may_send_token(self, url: str) -> bool:
        """True if ``url`` may receive the token (the base URL's origin, and Replicate's HTTPS hosts)."""
        return self.requester.may_send_token(url)

    # -- files ----------------------------------------------------------------------

    def download(self, url: str) -> bytes:
        """The bytes behind an output URL.

        A ``data:`` URL is decoded locally. An ``http(s):`` URL is fetched; the token
        goes with it only where ``may_send_token`` allows (Replicate's own hosts).

        Raises:
            ReplicateError: the server answered with an error status.
            ResponseTooLargeError: the body is larger than ``max_response_size``.
        """
        if not isinstance(url, str):
            raise TypeError(f"url must be a string, got {shown_url(url)}")
        if not url.startswith(("https://", "http://", "data:")):
            raise ValueError(f"url must be a data:, https: or http: URL, got {shown_url(url)}")
        from ._files import FileOutput, decode_data_url

        if url.startswith("data:"):
            try:
                return decode_data_url(url)
            except ValueError as exc:
                raise ValueError(f"url {url[:80]!r} is not a valid data URL: {exc}") from None
        problem = url_problem(url)
        if problem is not None:
            raise ValueError(f"url {shown_url(url)} cannot be requested: {problem}")
        return FileOutput(url, self.requester).read()

    async def async_download(self, url: str) -> bytes:
        """Async ``download``."""
        return await self.requester.run_async(self.download, url)

    # -- run and stream ------------------------------------------------------------

    def run(
        self,
        ref: str,
        input: Optional[Dict[str, Any]] = None,
        *,
        wait: Union[bool, int] = True,
        timeout: Optional[float] = None,
        use_file_output: Optional[bool] = None,
        webhook: Optional[str] = None,
        webhook_completed: Optional[str] = None,
        webhook_events_filter: Optional[Iterable[str]] = None,
        cancel_after: Union[str, int, float, None] = None,
        file_encoding_strategy: Optional[str] = None,
        stream: Optional[bool] = None,
        **params: object,
    ) -> Any:
        """Runs a model and returns its output once the prediction has finished.

        Args:
            ref: ``owner/name`` (the models endpoint), ``owner/name:version`` or a bare
                64-hex version id. No request is spent looking the version up.
            input: the model's inputs; files (``Path``, binary files, ``bytes``) are encoded.
            wait: hold the create request open up to 60 s (``True``) or N seconds; an
                answer that is not finished yet is then polled to the end. ``False`` polls.
            timeout: overall seconds for everything (create, retries, polls); past it
                ``APITimeoutError`` during the create (``.sent`` says whether a
                prediction may exist) or ``WaitTimeoutError`` after it (the prediction
                keeps running: pass ``cancel_after=`` to bound it on the server).
            use_file_output: ``True`` (the default, as in the official client): every
                ``https:``/``data:`` URL in the output is a ``FileOutput``, a ``str`` of
                the URL whose ``read()`` returns the file. ``False``: plain strings.
            webhook, webhook_completed, webhook_events_filter, cancel_after,
                file_encoding_strategy: as for ``predictions.create``.
            stream: sent as ``"stream": true`` (the official client's ``run(stream=True)``);
                the output is still returned whole. Use ``stream()`` for the events.
            **params: what the official client's ``run()`` also takes and passes on to
                its create, where the API drops it (``api_token=`` among them): accepted,
                not sent, and each named in a ``UserWarning``. Typed ``object``, not a
                keyword list, because the official client accepts any keyword here;
                ``predictions.create`` stays strict.

        Raises:
            ModelError: the prediction failed. PredictionCanceledError: it was canceled or
            aborted. WaitTimeoutError, APITimeoutError: ``timeout`` passed.
        """
        warn_ignored("run", params)
        deadline = deadline_for(timeout)
        request = CreateRequest.for_ref(
            ref,
            input,
            wait=wait,
            timeout=timeout,
            stream=stream,
            webhook=webhook,
            webhook_completed=webhook_completed,
            webhook_events_filter=webhook_events_filter,
            cancel_after=cancel_after,
            file_encoding_strategy=file_encoding_strategy,
        )
        return _run(self.requester, request, deadline, use_file_output is not False)

    async def async_run(
        self,
        ref: str,
        input: Optional[Dict[str, Any]] = None,
        *,
        wait: Union[bool, int] = True,
        timeout: Optional[float] = None,
        use_file_output: Optional[bool] = None,
        webhook: Optional[str] = None,
        webhook_completed: Optional[str] = None,
        webhook_events_filter: Optional[Iterable[str]] = None,
        cancel_after: Union[str, int, float, None] = None,
        file_encoding_strategy: Optional[str] = None,
        stream: Optional[bool] = None,
        **params: object,
    ) -> Any:
        """Async ``run``: the create on a worker thread, then polls that sleep on the event loop."""
        from ._run import async_run

        warn_ignored("run", params)
        deadline = deadline_for(timeout)
        request = CreateRequest.for_ref(
            ref,
            input,
            wait=wait,
            timeout=timeout,
            stream=stream,
            webhook=webhook,
            webhook_completed=webhook_completed,
            webhook_events_filter=webhook_events_filter,
            cancel_after=cancel_after,
            file_encoding_strategy=file_encoding_strategy,
        )
        return await async_run(self.requester, request, deadline, use_file_output is not False)

    def batch(
        self,
        ref: Any = None,
        inputs: Iterable[Dict[str, Any]] = (),
        *,
        deployment: Optional[str] = None,
        journal: Union[str, os.PathLike[str], None] = None,
        concurrency: int = DEFAULT_BATCH_CONCURRENCY,
        shard: Union[str, Tuple[int, int], None] = None,
        wait: Union[bool, int] = True,
        cancel_after: Union[str, int, float, None] = None,
        cancel_on_exit: bool = False,
        lookback: float = DEFAULT_BATCH_LOOKBACK,
        settle: float = DEFAULT_BATCH_SETTLE,
    ) -> _batch.Batch:
        """Runs ``ref`` (as ``run`` takes it), or ``deployment``, once per input: an iterator of
        ``BatchResult`` (``row``, ``id``, ``status``, ``output``, ``error``, ``metrics``) in
        completion order, one per row, that survives being killed and run again.

        ``inputs`` is read as needed (a generator over a huge file is fine); each is a dict of
        plain JSON values (files by URL). With ``journal`` (a file path, SQLite), a rerun with
        the same inputs resumes: delivered rows are skipped, rows with a prediction followed,
        and a row whose create was sent but never answered is looked for among the account's
        predictions (created since its send time minus ``lookback`` seconds, same model, same
        input) before it is created again, so no row gets two predictions. A result counts as
        delivered when the next one is asked for, or the batch is closed. Without a journal
        nothing resumes.

        ``concurrency``: predictions running at once (it halves on 429 and grows back);
        ``shard``: ``"K/N"`` takes the rows whose index % N == K, each shard with its own
        journal; ``wait``: how long each create is held (``Prefer: wait``); ``cancel_on_exit``:
        ``close()`` also cancels the predictions in flight; ``settle``: seconds a create whose
        answer was lost is left before it is looked for (twice as long as it was outstanding,
        if longer). Use it in a ``with`` block::

            with client.batch("owner/name", rows, journal="rows.journal") as results:
                for result in results:
                    print(result.row, result.status, result.output)

        Raises (on iteration): ``BatchError`` for a row that is not a JSON object or differs from
        the journal's, ``JournalMismatchError`` for another batch's journal, ``ReplicateError``
        when the API refuses the whole batch (401, 402, 403, 404).
        """
        options = dict(locals())
        del options["self"], options["ref"], options["inputs"]
        from ._batch import batch

        return batch(self.requester, ref, inputs, **options)

    def stream(
        self,
        ref: str,
        input: Optional[Dict[str, Any]] = None,
        *,
        use_file_output: Optional[bool] = None,
        webhook: Optional[str] = None,
        webhook_completed: Optional[str] = None,
        webhook_events_filter: Optional[Iterable[str]] = None,
        cancel_after: Union[str, int, float, None] = None,
        file_encoding_strategy: Optional[str] = None,
        **params: object,
    ) -> EventStream:
        """Creates a prediction (with ``"stream": true``) and streams its events; ends after ``done``.

        ``**params``: the official client's other keywords (``api_token=``, ``stream=``),
        accepted, not sent, and each named in a ``UserWarning``; see ``run``.
        """
        warn_ignored("stream", params)
        request = CreateRequest.for_ref(
            ref,
            input,
            stream=True,
            webhook=webhook,
            webhook_completed=webhook_completed,
            webhook_events_filter=webhook_events_filter,
            cancel_after=cancel_after,
            file_encoding_strategy=file_encoding_strategy,
        )
        prediction = create_prediction(self.requester, request, None)
        return prediction.stream(use_file_output=use_file_output is not False)

    def async_stream(
        self,
        ref: str,
        input: Optional[Dict[str, Any]] = None,
        *,
        use_file_output: Optional[bool] = None,
        webhook: Optional[str] = None,
        webhook_completed: Optional[str] = None,
        webhook_events_filter: Optional[Iterable[str]] = None,
        cancel_after: Union[str, int, float, None] = None,
        file_encoding_strategy: Optional[str] = None,
        **params: object,
    ) -> AsyncEventStream:
        """Async ``stream``: ``async for event in client.async_stream(...)`` (``await`` it first, if you like)."""
        warn_ignored("stream", params)
        return AsyncEventStream(
            self.requester,
            lambda: self.stream(
                ref,
                input,
                use_file_output=use_file_output,
                webhook=webhook,
                webhook_completed=webhook_completed,
                webhook_events_filter=webhook_events_filter,
                cancel_after=cancel_after,
                file_encoding_strategy=file_encoding_strategy,
            ),
        )


def warn_ignored(where: str, params: Dict[str, object], stacklevel: int = 3) -> None:
    """One ``UserWarning`` for each keyword of the official client's that ``where()`` accepts and ignores."""
    if not params:
        return
    import warnings

    for name in params:
        if name == "api_token":
            message = (
                f"{where}(api_token=...) is ignored: the client's own token is used; "
                f"to use another token, call Client(api_token=...).{where}(...)"
            )
        else:
            message = f"{where}() ignores the keyword {name!r}: it is not sent (the official client drops it too)"
        warnings.warn(message, UserWarning, stacklevel=stacklevel)


def _arguments(where: str, arguments: Dict[str, Any]) -> Dict[str, Any]:
    """A module-level function's ``locals()`` as keywords for the client's method; its
    ``**params`` are warned about here, so the warning names the caller's line."""
    warn_ignored(where, arguments.pop("params"), stacklevel=4)
    return arguments


_default: Optional[Client] = None
_default_lock = allocate_lock()


def _client_over_settings(cls: Type[Client], settings: Settings) -> Client:
    return cls._over(Requester(settings))


def _new_default_lock() -> None:
    global _default_lock
    _default_lock = allocate_lock()


_fork.on_fork_in_child(_new_default_lock)


def get_default_client() -> Client:
    """The module-level client behind ``replicate_min.predictions``, created on first use
    from ``REPLICATE_API_TOKEN``, ``REPLICATE_BASE_URL`` and ``REPLICATE_POLL_INTERVAL``."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Client._over(default_requester())
    return _default


if TYPE_CHECKING:
    #: The default client, as the official ``replicate.default_client`` (a ``Client``):
    #: ``default_client.poll_interval = 0.01`` applies at once. Calling it
    #: (``default_client()``, the earlier spelling) returns the same client.
    default_client: Client
else:

    def __getattr__(name: str) -> Any:
        # Looked up each time, never stored: reset_default_client() makes the next one.
        if name == "default_client":
            return get_default_client()
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def reset_default_client() -> None:
    """Forgets the default client, so the next use reads the environment again."""
    global _default
    with _default_lock:
        _default = None
    reset_default_requester()


# -- the module-level functions: the default client's ---------------------------------


def run(
    ref: str,
    input: Optional[Dict[str, Any]] = None,
    *,
    wait: Union[bool, int] = True,
    timeout: Optional[float] = None,
    use_file_output: Optional[bool] = None,
    webhook: Optional[str] = None,
    webhook_completed: Optional[str] = None,
    webhook_events_filter: Optional[Iterable[str]] = None,
    cancel_after: Union[str, int, float, None] = None,
    file_encoding_strategy: Optional[str] = None,
    stream: Optional[bool] = None,
    **params: object,
) -> Any:
    """``default_client.run(...)``: runs a model and returns its output. See ``Client.run``."""
    return get_default_client().run(**_arguments("run", locals()))


async def async_run(
    ref: str,
    input: Optional[Dict[str, Any]] = None,
    *,
    wait: Union[bool, int] = True,
    timeout: Optional[float] = None,
    use_file_output: Optional[bool] = None,
    webhook: Optional[str] = None,
    webhook_completed: Optional[str] = None,
    webhook_events_filter: Optional[Iterable[str]] = None,
    cancel_after: Union[str, int, float, None] = None,
    file_encoding_strategy: Optional[str] = None,
    stream: Optional[bool] = None,
    **params: object,
) -> Any:
    """``default_client.async_run(...)``. See ``Client.run``."""
    return await get_default_client().async_run(**_arguments("run", locals()))


def stream(
    ref: str,
    input: Optional[Dict[str, Any]] = None,
    *,
    use_file_output: Optional[bool] = None,
    webhook: Optional[str] = None,
    webhook_completed: Optional[str] = None,
    webhook_events_filter: Optional[Iterable[str]] = None,
    cancel_after: Union[str, int, float, None] = None,
    file_encoding_strategy: Optional[str] = None,
    **params: object,
) -> EventStream:
    """``default_client.stream(...)``: creates a prediction and yields its events."""
    return get_default_client().stream(**_arguments("stream", locals()))


def async_stream(
    ref: str,
    input: Optional[Dict[str, Any]] = None,
    *,
    use_file_output: Optional[bool] = None,
    webhook: Optional[str] = None,
    webhook_completed: Optional[str] = None,
    webhook_events_filter: Optional[Iterable[str]] = None,
    cancel_after: Union[str, int, float, None] = None,
    file_encoding_strategy: Optional[str] = None,
    **params: object,
) -> AsyncEventStream:
    """``default_client.async_stream(...)``: ``async for event in replicate_min.async_stream(...)``."""
    return get_default_client().async_stream(**_arguments("stream", locals()))


def batch(
    ref: Any = None,
    inputs: Iterable[Dict[str, Any]] = (),
    *,
    deployment: Optional[str] = None,
    journal: Union[str, os.PathLike[str], None] = None,
    concurrency: int = DEFAULT_BATCH_CONCURRENCY,
    shard: Union[str, Tuple[int, int], None] = None,
    wait: Union[bool, int] = True,
    cancel_after: Union[str, int, float, None] = None,
    cancel_on_exit: bool = False,
    lookback: float = DEFAULT_BATCH_LOOKBACK,
    settle: float = DEFAULT_BATCH_SETTLE,
) -> _batch.Batch:
    """``default_client.batch(...)``: runs a model once per input, resumably. See ``Client.batch``."""
    return get_default_client().batch(**locals())
