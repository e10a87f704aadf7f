"""``CreateRequest``: one create, as one validated value (pure: nothing here does I/O).

Every create entry point (``predictions.create``, ``models.predictions``,
``deployments.predictions``, ``deployment.predictions``, ``run``, ``stream`` and their
async twins) builds one ``CreateRequest`` and hands it to
``_prediction.create_prediction``. A field that is wrong raises ``ValueError`` or
``TypeError`` naming it, before anything is sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple, Union

from ._exceptions import excerpt
from ._urls import shown_url, url_problem

__all__ = [
    "MAX_HOLD",
    "OWNER_NAME",
    "WAIT_MARGIN",
    "WEBHOOK_EVENTS",
    "CreateRequest",
    "Target",
    "fit_hold",
    "parse_ref",
    "plain",
]

#: A model or deployment reference, ``owner/name``.
OWNER_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*"
WEBHOOK_EVENTS = frozenset({"start", "output", "logs", "completed"})
#: Seconds added to a ``Prefer: wait=N`` hold to size the read timeout.
WAIT_MARGIN = 5.0
#: The longest ``Prefer: wait`` hold the API grants, in seconds.
MAX_HOLD = 60
_VERSION_ID = r"[0-9a-fA-F]{64}"
#: A model or deployment as the official client takes it: ``"owner/name"``, ``("owner", "name")``,
#: or an object with ``owner`` and ``name`` (a ``Deployment``, a ``Model``).
Target = Union[str, Tuple[str, str], Any]
_STRATEGIES = ("base64", "url")


def parse_ref(ref: Any) -> Dict[str, str]:
    """Where a reference posts: ``{"model": "owner/name"}`` or ``{"version": id}``.

    ``owner/name`` (or an object with ``owner`` and ``name``, a ``Model``) goes to the
    models endpoint; ``owner/name:version``, a bare 64-hex version id (any case; sent in
    lower case) or an object with a string ``id`` (a ``Version``) go to ``/v1/predictions``
    with the bare id. Nothing is looked up.
    """
    if not isinstance(ref, str):
        owner, name = getattr(ref, "owner", None), getattr(ref, "name", None)
        if isinstance(owner, str) and isinstance(name, str):
            return {"model": _owner_name("ref", f"{owner}/{name}")}
        ident = getattr(ref, "id", None)
        if isinstance(ident, str):
            return {"version": _version_id("ref", ident)}
        raise TypeError(f"ref must be a string such as 'owner/name', got {excerpt(ref)}")
    if re.fullmatch(_VERSION_ID, ref):
        return {"version": ref.lower()}
    match = re.fullmatch(f"({OWNER_NAME})(?::({_VERSION_ID}))?", ref, flags=re.ASCII)
    if not match:
        raise ValueError(
            f"ref must be 'owner/name', 'owner/name:<64-hex version>' or a 64-hex version id, got {ref[:80]!r}"
        )
    model, version = match.groups()
    return {"version": version.lower()} if version else {"model": model}


def fit_hold(wait: Union[bool, int, None], timeout: Optional[float]) -> Union[bool, int, None]:
    """The ``Prefer: wait`` hold, shortened to fit inside an overall ``timeout`` (seconds,
    already checked); ``wait`` is checked as ``CreateRequest`` checks it."""
    _prefer(wait)
    if timeout is None or wait is None or wait is False:
        return wait
    limit = int(timeout)
    if limit < 1:
        return False
    return min(limit, MAX_HOLD) if wait is True else min(int(wait), limit)


def _version_id(name: str, value: Any) -> str:
    text = value if isinstance(value, str) else getattr(value, "id", None)  # a str, or a Version
    if not isinstance(text, str) or not text:
        raise TypeError(f"{name} must be a non-empty version id string or a Version, got {excerpt(value)}")
    if not text.isprintable():
        raise ValueError(f"{name} must be a version id, got {excerpt(value)}")
    return text.lower() if re.fullmatch(_VERSION_ID, text) else text


def _owner_name(kind: str, ref: Any) -> str:
    """Validates ``owner/name`` (or an ``(owner, name)`` tuple, or an object with both) and returns it."""
    if isinstance(ref, tuple):
        if len(ref) != 2 or not all(isinstance(part, str) for part in ref):
            raise TypeError(f"{kind} as a tuple must be (owner, name), got {excerpt(ref)}")
        ref = f"{ref[0]}/{ref[1]}"
    elif not isinstance(ref, str) and isinstance(getattr(ref, "owner", None), str):
        owner, name = ref.owner, getattr(ref, "name", None)
        if not isinstance(name, str):
            raise TypeError(f"{kind} must be 'owner/name', (owner, name) or have both, got {excerpt(ref)}")
        ref = f"{owner}/{name}"
    if not isinstance(ref, str):
        raise TypeError(f"{kind} must be a string like 'owner/name', got {excerpt(ref)}")
    if not re.fullmatch(OWNER_NAME, ref, flags=re.ASCII):
        hint = " (for a version, pass version='owner/name:version' instead)" if ":" in ref else ""
        raise ValueError(f"{kind} must look like 'owner/name', got {ref[:80]!r}{hint}")
    return ref


def _webhook_url(name: str, url: Any) -> str:
    """``url`` if the one URL rule (``_urls.url_problem``) passes it. The server calls it, not
    this client, so ``user:password@`` (shown in no message) and an upper-case scheme are
    the caller's to choose, as with the official client."""
    if not isinstance(url, str):  # a ValueError, as before CreateRequest
        raise ValueError(f"{name} must be an http(s) URL, got {shown_url(url)}")
    scheme, colon, rest = url.partition(":")
    problem = url_problem(scheme.lower() + colon + rest, credentials=True)
    if problem is not None:
        raise ValueError(f"{name} must be an http(s) URL with a host ({problem}), got {shown_url(url)}")
    return url


def _prefer(wait: Union[bool, int, None]) -> Optional[str]:
    """The ``Prefer`` header for ``wait``: True is ``wait``, an int N (1 to 60) is ``wait=N``."""
    if wait is None or wait is False:
        return None
    if wait is True:
        return "wait"
    if not isinstance(wait, int):
        raise TypeError(f"wait must be True, False or a whole number of seconds, got {excerpt(wait)}")
    if not 1 <= wait <= MAX_HOLD:
        raise ValueError(f"wait must be between 1 and {MAX_HOLD} seconds, got {excerpt(wait)}")
    return f"wait={wait}"


def _cancel_after(value: Union[str, int, float, None]) -> Optional[str]:
    """Validates a ``Cancel-After`` duration ("90s", "1h30m", or seconds) of at least 5 s."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(f"cancel_after must be a duration like '1h30m' or seconds, got {excerpt(value)}")
    if isinstance(value, str):
        match = re.fullmatch(r"(?:(\d{1,9})h)?(?:(\d{1,9})m)?(?:(\d{1,9})s)?|(\d{1,9})", value, flags=re.ASCII)
        if not value or not match:
            raise ValueError(f"cancel_after must be a duration like '90s', '5m' or '1h30m45s', got {value[:40]!r}")
        hours, minutes, secs, bare = (int(group or 0) for group in match.groups())
        seconds: float = hours * 3600 + minutes * 60 + secs + bare
        text = value
    else:
        if not -1e15 < value < 1e15 or value != int(value):
            raise ValueError(f"cancel_after must be a whole number of seconds, got {excerpt(value)}")
        seconds, text = value, f"{int(value)}s"
    if seconds < 5:
        raise ValueError(f"cancel_after must be at least 5 seconds, got {excerpt(value)}")
    return text


def plain(value: Any) -> Any:
    """``value`` as the built-in ``str``, ``int`` or ``float`` it holds, if it is a subclass of
    one: a subclass's ``__str__``, ``__format__`` or ``__eq__`` could say one thing to the
    checks and send another. Anything else is returned as it is."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    return value


_SCALARS: Tuple[str, ...] = ("version", "model", "deployment", "webhook", "webhook_completed", "wait")
_SCALARS += ("cancel_after", "file_encoding_strategy")


@dataclass(frozen=True)
class CreateRequest:
    """One prediction to create: where it posts, what it sends, and how.

    Exactly one of ``version`` (a version id, ``owner/name:version``, or a ``Version``),
    ``model`` and ``deployment`` (``owner/name``, an ``(owner, name)`` tuple, or an object
    with ``owner`` and ``name``). Construction validates every field and normalizes it
    (a target to its ``owner/name`` string, a 64-hex version to lower case, the events
    filter to a tuple); ``path``, ``body``, ``headers`` and ``hold`` are what is sent.
    """

    version: Any = None
    model: Any = None
    deployment: Any = None
    input: Optional[Dict[str, Any]] = None
    webhook: Optional[str] = None
    webhook_completed: Optional[str] = None
    webhook_events_filter: Any = None
    stream: Optional[bool] = None
    wait: Union[bool, int, None] = None
    cancel_after: Union[str, int, float, None] = None
    file_encoding_strategy: Optional[str] = None

    def __post_init__(self) -> None:
        fix = object.__setattr__  # frozen: the normalized values are set once, here
        for name in _SCALARS:  # what is checked is what is sent: no subclass's __str__ or __format__
            fix(self, name, plain(getattr(self, name)))
        if sum(target is not None for target in (self.version, self.model, self.deployment)) != 1:
            raise ValueError("Exactly one of 'model', 'version', or 'deployment' must be specified.")  # official words
        if self.version is not None:
            fix(self, "version", _version_id("version", self.version))
        elif self.model is not None:
            fix(self, "model", _owner_name("model", self.model))
        else:
            fix(self, "deployment", _owner_name("deployment", self.deployment))
        if self.input is None:
            fix(self, "input", {})
        elif not isinstance(self.input, dict):
            raise TypeError(f"input must be a dict of the model's inputs, got {excerpt(self.input)}")
        for name in ("webhook", "webhook_completed"):
            if getattr(self, name) is not None:
                _webhook_url(name, getattr(self, name))
        events = self.webhook_events_filter
        if events is not None:
            if isinstance(events, str):
                raise TypeError("webhook_events_filter must be a list of event names, not a string")
            try:
                events = tuple(events)
            except (TypeError, ValueError):  # not iterable, or a closed file
                raise TypeError(f"webhook_events_filter must be a list of event names, got {excerpt(events)}") from None
            if not all(isinstance(event, str) for event in events):
                raise TypeError(f"webhook_events_filter must be a list of event names, got {excerpt(events)}")
            events = tuple(plain(event) for event in events)
            unknown = [event for event in events if event not in WEBHOOK_EVENTS]
            if unknown:
                raise ValueError(
                    f"webhook_events_filter has unknown events {unknown!r}; known: {sorted(WEBHOOK_EVENTS)}"
                )
            fix(self, "webhook_events_filter", events)
        if self.stream is not None and not isinstance(self.stream, bool):
            raise TypeError(f"stream must be True or False, got {excerpt(self.stream)}")
        _prefer(self.wait)
        _cancel_after(self.cancel_after)
        strategy = self.file_encoding_strategy
        if strategy is not None and not (isinstance(strategy, str) and strategy in _STRATEGIES):
            shown = excerpt(strategy)
            raise ValueError(f"file_encoding_strategy must be 'base64', 'url' or None (automatic), got {shown}")

    @classmethod
    def for_ref(
        cls,
        ref: Any,
        input: Optional[Dict[str, Any]],
        *,
        wait: Union[bool, int, None] = None,
        timeout: Optional[float] = None,
        stream: Optional[bool] = None,
        webhook: Optional[str] = None,
        webhook_completed: Optional[str] = None,
        webhook_events_filter: Any = None,
        cancel_after: Union[str, int, float, None] = None,
        file_encoding_strategy: Optional[str] = None,
    ) -> CreateRequest:
        """The create ``run``/``stream`` make for ``ref`` (see ``parse_ref``), its hold fitted to ``timeout``."""
        return cls(
            input=input,
            wait=fit_hold(wait, timeout),
            stream=stream,
            webhook=webhook,
            webhook_completed=webhook_completed,
            webhook_events_filter=webhook_events_filter,
            cancel_after=cancel_after,
            file_encoding_strategy=file_encoding_strategy,
            **parse_ref(ref),
        )

    @property
    def path(self) -> str:
        if self.version is not None:
            return "/v1/predictions"
        if self.model is not None:
            return f"/v1/models/{self.model}/predictions"
        return f"/v1/deployments/{self.deployment}/predictions"

    def body(self, input: Dict[str, Any]) -> Dict[str, Any]:
        """The JSON body, with ``input`` (this request's, its files encoded) in it."""
        body: Dict[str, Any] = {} if self.version is None else {"version": self.version}
        body["input"] = input
        for name in ("webhook", "webhook_completed", "stream"):
            if getattr(self, name) is not None:
                body[name] = getattr(self, name)
        if self.webhook_events_filter is not None:
            body["webhook_events_filter"] = list(self.webhook_events_filter)
        return body

    @property
    def headers(self) -> Dict[str, str]:
        headers: Dict[str, str] = {}
        prefer = _prefer(self.wait)
        if prefer is not None:
            headers["Prefer"] = prefer
        cancel_after = _cancel_after(self.cancel_after)
        if cancel_after is not None:
            headers["Cancel-After"] = cancel_after
        return headers

    @property
    def hold(self) -> Optional[float]:
        """Seconds the server may hold the create open (``Prefer: wait``), or None."""
        if self.wait is None or self.wait is False:
            return None
        return float(MAX_HOLD) if self.wait is True else float(self.wait)

    def read_timeout(self, read_timeout: Optional[float]) -> Optional[float]:
        """The read timeout this create needs: ``read_timeout`` (None: no limit), grown to
        outlast its ``Prefer: wait`` hold by ``WAIT_MARGIN``."""
        hold = self.hold
        return read_timeout if read_timeout is None or hold is None else max(read_timeout, hold + WAIT_MARGIN)
