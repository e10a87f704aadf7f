"""``run()``: a model reference in, the finished output out, within one overall deadline."""

from __future__ import annotations

import re
import time
from typing import Any, Callable, Dict, Optional, Tuple, Union

from ._exceptions import excerpt
from ._prediction import OWNER_NAME, Prediction, Predictions, check_outcome
from ._requester import Requester, check_seconds

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
    match = re.fullmatch(f"({OWNER_NAME})(?::({_VERSION_ID}))?", ref, flags=re.ASCII)
    if not match:
        raise ValueError(
            f"ref must be 'owner/name', 'owner/name:<64-hex version>' or a 64-hex version id, got {ref[:80]!r}"
        )
    model, version = match.groups()
    return {"version": version} if version else {"model": model}


def output_of(prediction: Prediction, use_file_output: Optional[bool] = False) -> Any:
    """The output of a finished prediction; raises if it failed, was canceled or aborted.

    With ``use_file_output`` every ``https:``/``data:`` URL in it is a ``FileOutput``.
    """
    check_outcome(prediction)
    if use_file_output:
        from ._files import transform_output

        return transform_output(prediction.output, prediction.requester)
    return prediction.output


def _hold(wait: Union[bool, int], timeout: Optional[float]) -> Union[bool, int]:
    """The ``Prefer: wait`` hold, shortened to fit inside an overall timeout."""
    if timeout is None or wait is False:
        return wait
    limit = int(timeout)
    if limit < 1:
        return False
    return min(limit, 60) if wait is True else min(int(wait), limit)


def run(
    requester: Requester,
    ref: str,
    input: Optional[Dict[str, Any]],
    *,
    wait: Union[bool, int],
    timeout: Optional[float],
    options: Dict[str, Any],
    use_file_output: Optional[bool] = True,
) -> Any:
    """Creates a prediction, waits for it and returns its output, all within ``timeout``.

    Every request, retry wait and poll is bounded by the one deadline; past it the
    create raises ``APITimeoutError`` (whose ``sent`` says whether a prediction may
    exist) or the wait raises ``WaitTimeoutError`` (the prediction exists, and runs on).
    """
    create, deadline = _prepare(requester, ref, input, wait, timeout, options)
    prediction = create()
    prediction.wait(timeout=_left(deadline))
    return output_of(prediction, use_file_output is not False)


async def async_run(
    requester: Requester,
    ref: str,
    input: Optional[Dict[str, Any]],
    *,
    wait: Union[bool, int],
    timeout: Optional[float],
    options: Dict[str, Any],
    use_file_output: Optional[bool] = True,
) -> Any:
    """``run`` for async code: the create on a worker thread, the polls sleeping on the loop."""
    create, deadline = _prepare(requester, ref, input, wait, timeout, options)
    prediction = await requester.run_async(create)
    await prediction.async_wait(timeout=_left(deadline))
    return output_of(prediction, use_file_output is not False)


def _prepare(
    requester: Requester,
    ref: str,
    input: Optional[Dict[str, Any]],
    wait: Union[bool, int],
    timeout: Optional[float],
    options: Dict[str, Any],
) -> Tuple[Callable[[], Prediction], Optional[float]]:
    """Checks the arguments; returns the create to make and the deadline (monotonic) or None."""
    timeout = check_seconds("timeout", timeout, allow_none=True)
    deadline = None if timeout is None else time.monotonic() + timeout
    strategy = options.pop("file_encoding_strategy", None)
    target = parse_ref(ref)
    version = target.pop("version", None)
    options = {**target, **options, "wait": _hold(wait, timeout)}
    return lambda: Predictions(requester)._create(version, input, options, strategy, deadline), deadline


def _left(deadline: Optional[float]) -> Optional[float]:
    return None if deadline is None else max(0.0, deadline - time.monotonic())
