"""``run()`` and ``stream()``: a model reference in, the finished output (or its events) out."""

from __future__ import annotations

import re
import time

from ._exceptions import ModelError, PredictionCanceledError, excerpt
from ._prediction import OWNER_NAME, Prediction, _check_seconds

TYPE_CHECKING = False  # typing costs milliseconds to import: only type checkers read it
if TYPE_CHECKING:
    from typing import Any, Dict, Optional, Tuple, Union

    from ._client import Client

__all__ = ["async_run", "output_of", "parse_ref", "run"]

_VERSION_ID = r"[0-9a-f]{64}"


def parse_ref(ref: Any) -> Dict[str, Any]:
    """Where a reference posts: ``{"model": "owner/name"}`` or ``{"version": id}``.

    ``owner/name`` goes to the models endpoint; ``owner/name:version`` and a bare
    64-hex version id go to ``/v1/predictions`` with the bare id. Nothing is looked up.
    """
    if not isinstance(ref, str):
        raise TypeError(f"ref must be a string such as 'owner/name', got {excerpt(ref)}")
    if re.fullmatch(_VERSION_ID, ref):
        return {"version": ref}
    match = re.fullmatch(f"({OWNER_NAME})(?::({_VERSION_ID}))?", ref)
    if not match:
        raise ValueError(f"ref must be 'owner/name', 'owner/name:<64-hex version>' or a 64-hex version id, got {ref!r}")
    model, version = match.groups()
    return {"version": version} if version else {"model": model}


def output_of(prediction: Prediction) -> Any:
    """The output of a finished prediction; raises if it failed, was canceled or aborted."""
    if prediction.status == "failed":
        raise ModelError(prediction)
    if prediction.status in ("canceled", "aborted"):
        raise PredictionCanceledError(prediction)
    return prediction.output


def _hold(wait: Union[bool, int], timeout: Optional[float]) -> Union[bool, int]:
    """The ``Prefer: wait`` hold, shortened to fit inside an overall timeout."""
    if timeout is None or wait is False:
        return wait
    _check_seconds("timeout", timeout)
    limit = int(timeout)
    if limit < 1:
        return False
    return min(limit, 60) if wait is True else min(int(wait), limit)


def _start(
    ref: str, wait: Union[bool, int], timeout: Optional[float]
) -> Tuple[Dict[str, Any], Union[bool, int], Optional[float]]:
    """Where to post, the ``Prefer: wait`` hold, and the deadline (a monotonic time or None)."""
    target = parse_ref(ref)
    hold = _hold(wait, timeout)
    return target, hold, None if timeout is None else time.monotonic() + timeout


def _remaining(deadline: Optional[float]) -> Optional[float]:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def run(
    client: Client,
    ref: str,
    input: Optional[Dict[str, Any]],
    wait: Union[bool, int],
    timeout: Optional[float],
    params: Dict[str, Any],
) -> Any:
    target, hold, deadline = _start(ref, wait, timeout)
    prediction = client.predictions.create(input=input, wait=hold, **target, **params)
    prediction.wait(timeout=_remaining(deadline))
    return output_of(prediction)


async def async_run(
    client: Client,
    ref: str,
    input: Optional[Dict[str, Any]],
    wait: Union[bool, int],
    timeout: Optional[float],
    params: Dict[str, Any],
) -> Any:
    target, hold, deadline = _start(ref, wait, timeout)
    prediction = await client.predictions.async_create(input=input, wait=hold, **target, **params)
    await prediction.async_wait(timeout=_remaining(deadline))
    return output_of(prediction)
