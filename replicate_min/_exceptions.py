"""Every error replicate_min raises; ``exceptions`` (the public module) draws the hierarchy.

Bad arguments from the caller raise the built-in ``ValueError`` or ``TypeError``
before anything is sent. No ``urllib``, ``http.client``, ``socket`` or ``json``
exception escapes a public call: the transport translates them here, ``from`` the cause.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Type

from ._lazy import Deferred

if TYPE_CHECKING:
    from . import _prediction
else:  # _prediction imports this module: it is imported when a hint is resolved
    _prediction = Deferred(f"{__package__}._prediction")

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "BatchError",
    "InvalidSecretKeyError",
    "InvalidSignatureError",
    "InvalidTimestampError",
    "JournalMismatchError",
    "MissingWebhookBodyError",
    "MissingWebhookHeaderError",
    "ModelError",
    "PredictionCanceledError",
    "ReplicateError",
    "ReplicateException",
    "ResponseTooLargeError",
    "StreamError",
    "ValidationError",
    "WaitTimeoutError",
    "WebhookError",
    "WebhookValidationError",
]


class ReplicateException(Exception):
    """Base class of every error raised by replicate_min.

    Every one pickles with its class, message and attributes (``prediction``, ``status``,
    ``sent``...), so an error raised in a process pool's worker, or on a Dask or Ray
    worker, is caught by its class in the caller.
    """

    def __reduce__(self) -> Any:
        # Exception's own pickling calls cls(*args): our constructors take other arguments.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))


def _rebuild(cls: Type[ReplicateException], args: Tuple[Any, ...], state: Dict[str, Any]) -> ReplicateException:
    exc = cls.__new__(cls)
    Exception.__init__(exc, *args)
    exc.__dict__.update(state)
    return exc


class ReplicateError(ReplicateException):
    """The API answered with an HTTP error status.

    Attributes:
        status: the HTTP status code of the response.
        type, title, detail, instance: the RFC 7807 problem fields, when the body has them.
        body: the raw response body as text (at most a few kilobytes).
    """

    def __init__(
        self,
        type: Optional[str] = None,
        title: Optional[str] = None,
        status: Optional[int] = None,
        detail: Optional[str] = None,
        instance: Optional[str] = None,
        *,
        body: str = "",
    ) -> None:
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.instance = instance
        self.body = body
        super().__init__(self._message())

    def to_dict(self) -> dict[str, Any]:
        """The problem fields that are set, as the official client returns them."""
        fields = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": self.instance,
        }
        return {key: value for key, value in fields.items() if value is not None}

    def _message(self) -> str:
        lines = [f"{key}: {value}" for key, value in self.to_dict().items()]
        if self.status == 401:
            lines.append("hint: the API token was refused: check REPLICATE_API_TOKEN (or the api_token= argument)")
        return "ReplicateError Details:\n" + "\n".join(lines)

    def __str__(self) -> str:
        return self._message()


class ModelError(ReplicateException):
    """A prediction failed. ``prediction`` is the failed prediction; ``str()`` is its error."""

    def __init__(self, prediction: _prediction.Prediction) -> None:
        self.prediction = prediction
        super().__init__(prediction.error or f"prediction {prediction.id} failed")


class PredictionCanceledError(ReplicateException):
    """A prediction ended ``canceled`` or ``aborted`` where its output was expected."""

    def __init__(self, prediction: _prediction.Prediction) -> None:
        self.prediction = prediction
        super().__init__(f"prediction {prediction.id} ended with status {prediction.status!r}")


class APIConnectionError(ReplicateException):
    """No answer was received: the connection failed, dropped, or the reply was not HTTP.

    ``__cause__`` holds the standard-library error. ``sent`` tells whether the
    request may have reached the server (a create that failed with ``sent=True``
    may have created a prediction: list your predictions before creating again).
    """

    def __init__(self, message: str, *, sent: bool = True) -> None:
        self.sent = sent
        super().__init__(message)


class APITimeoutError(APIConnectionError):
    """Connecting, or waiting for the next bytes of the answer, took longer than the timeout."""


class ResponseTooLargeError(APIConnectionError):
    """The response body was larger than the client's ``max_response_size``; it was not kept."""


class WaitTimeoutError(ReplicateException):
    """``wait()`` or ``run()`` passed their overall ``timeout``; the prediction keeps running.

    ``prediction`` is the prediction as last seen (reload or cancel it as you need).
    """

    def __init__(self, message: str, prediction: _prediction.Prediction) -> None:
        self.prediction = prediction
        super().__init__(message)


class ValidationError(ReplicateException):
    """The server sent a body this client cannot accept.

    ``field`` names the offending field (``None`` when the body as a whole is
    wrong) and ``value`` holds what was received.
    """

    def __init__(self, message: str, *, field: Optional[str] = None, value: Any = None) -> None:
        self.field = field
        self.value = value
        super().__init__(message)


class StreamError(ReplicateException, RuntimeError):
    """A server-sent event stream could not be read, or the model reported an ``error`` event.

    ``detail`` is the error text the server sent, when there was one.
    """

    def __init__(self, message: str, *, detail: Optional[str] = None) -> None:
        self.detail = detail
        super().__init__(message)


class WebhookError(ReplicateException, ValueError):
    """A webhook could not be verified. Catch this to reject the request.

    It is also a ``ValueError``, as the official client's webhook errors are, so an
    ``except ValueError`` written for that client catches it. The message is the official
    client's for the same failure (endpoints return ``str(e)`` to their callers); ``detail``
    says more (which header, how old), and never holds the secret.
    """

    def __init__(self, message: str, *, detail: Optional[str] = None) -> None:
        self.detail = detail if detail is not None else message
        super().__init__(message)


#: The official client's name for the base class (``replicate.webhook.WebhookValidationError``).
WebhookValidationError = WebhookError


class MissingWebhookHeaderError(WebhookError):
    """A ``webhook-id``, ``webhook-timestamp`` or ``webhook-signature`` header is missing."""


class MissingWebhookBodyError(WebhookError):
    """The webhook body was not given."""


class InvalidSecretKeyError(WebhookError):
    """The signing secret is not ``whsec_`` followed by base64."""


class InvalidTimestampError(WebhookError):
    """The timestamp is not a number, or is outside the tolerance (stale or from the future)."""


class InvalidSignatureError(WebhookError):
    """No ``v1`` signature matches the body: it was tampered with or signed with another secret."""


class BatchError(ReplicateException, ValueError):
    """A batch refused its input: a row that is not a JSON object, or cannot be sent. The message
    names the row (and, from the command line, the file and line)."""


class JournalMismatchError(BatchError):
    """The batch journal belongs to another batch (another model, shard or input), or is not a
    journal: refused rather than mixed with this one."""


def excerpt(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages."""
    try:
        text = repr(value)
    except Exception:  # a caller's object whose repr fails, an int past the digit limit, deep nesting
        text = f"<{type(value).__name__} that cannot be shown>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


#: How a field's JSON type is named in a ``ValidationError``.
JSON_NAMES = {str: "a string", int: "an integer", dict: "an object", bool: "a boolean", list: "a list"}


def nests_deeper(value: Any, limit: int) -> bool:
    """True if ``value`` (decoded JSON) has dicts or lists nested more than ``limit`` deep."""
    todo = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        todo.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def json_object(what: str, data: Any) -> Dict[str, Any]:
    """``data`` if it is a JSON object; else the ``ValidationError`` saying ``what`` it should be."""
    if not isinstance(data, dict):
        raise ValidationError(f"{what} must be a JSON object, got {excerpt(data)}", value=data)
    return data


def json_field(where: str, data: Dict[str, Any], name: str, kind: type, required: bool = False) -> Any:
    """``data[name]`` checked to be ``kind`` (a ``bool`` is not an ``int``); None if absent and not ``required``."""
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValidationError(
            f"{where} field {name!r} must be {JSON_NAMES[kind]}, got {excerpt(value)}", field=name, value=value
        )
    return value
