"""Every error replicate_min raises, under the module name the official client uses.

``from replicate_min.exceptions import ModelError, ReplicateError`` works as
``from replicate.exceptions import ...`` does. The hierarchy::

    ReplicateException                  base of everything below
    ├── ReplicateError                  the API answered with an error status (4xx/5xx)
    ├── ModelError                      a prediction ended in ``failed``
    ├── PredictionCanceledError         a prediction ended ``canceled`` or ``aborted``
    ├── APIConnectionError              the request did not get a usable answer (wraps the OS error)
    │   ├── APITimeoutError             ... because connecting, reading or the call's deadline timed out
    │   └── ResponseTooLargeError       ... because the body was larger than ``max_response_size``
    ├── WaitTimeoutError                ``wait()``/``run()`` passed their own deadline
    ├── ValidationError                 the server sent a body this client cannot accept
    ├── StreamError                     a server-sent event stream broke or reported an error
    │                                   (also a ``RuntimeError``, as the official client's is)
    ├── BatchError                      a batch refused a row (named) (also a ``ValueError``)
    │   └── JournalMismatchError        the batch journal is another batch's, or not a journal
    └── WebhookError                    a webhook could not be verified (also a ``ValueError``;
        │                               ``WebhookValidationError`` is its official name)
        ├── MissingWebhookHeaderError   a ``webhook-*`` header is missing
        ├── MissingWebhookBodyError     the body was not given
        ├── InvalidSecretKeyError       the signing secret is not ``whsec_`` and base64
        ├── InvalidTimestampError       the timestamp is unreadable or outside the tolerance
        └── InvalidSignatureError       no signature matches the body

A caller's bad argument is the built-in ``ValueError`` or ``TypeError``, raised
before anything is sent; ``ValidationError`` only ever means the server's body.
"""

from ._exceptions import (
    APIConnectionError,
    APITimeoutError,
    BatchError,
    InvalidSecretKeyError,
    InvalidSignatureError,
    InvalidTimestampError,
    JournalMismatchError,
    MissingWebhookBodyError,
    MissingWebhookHeaderError,
    ModelError,
    PredictionCanceledError,
    ReplicateError,
    ReplicateException,
    ResponseTooLargeError,
    StreamError,
    ValidationError,
    WaitTimeoutError,
    WebhookError,
    WebhookValidationError,
)

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
