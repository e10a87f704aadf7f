"""``run()``: a model reference in, the finished output out, within one overall deadline."""

from __future__ import annotations

import time
from typing import Any, Optional

from ._create import CreateRequest, parse_ref
from ._prediction import Prediction, check_outcome, create_prediction, deadline_for
from ._requester import Requester

__all__ = ["async_run", "deadline_for", "output_of", "parse_ref", "run"]


def output_of(prediction: Prediction, use_file_output: Optional[bool] = False) -> Any:
    """The output of a finished prediction; raises if it failed, was canceled or aborted.

    With ``use_file_output`` every ``https:``/``data:`` URL in it is a ``FileOutput``.
    """
    check_outcome(prediction)
    if use_file_output:
        from ._files import transform_output

        return transform_output(prediction.output, prediction.requester)
    return prediction.output


def run(requester: Requester, request: CreateRequest, deadline: Optional[float], use_file_output: bool) -> Any:
    """Creates ``request``, waits for it and returns its output, all before ``deadline``.

    Every request, retry wait and poll is bounded by the one deadline; past it the
    create raises ``APITimeoutError`` (whose ``sent`` says whether a prediction may
    exist) or the wait raises ``WaitTimeoutError`` (the prediction exists, and runs on).
    """
    prediction = create_prediction(requester, request, deadline)
    prediction.wait(timeout=_left(deadline))
    return output_of(prediction, use_file_output)


async def async_run(
    requester: Requester, request: CreateRequest, deadline: Optional[float], use_file_output: bool
) -> Any:
    """``run`` for async code: the create on a worker thread, the polls sleeping on the loop."""
    prediction = await requester.run_async(create_prediction, requester, request, deadline)
    await prediction.async_wait(timeout=_left(deadline))
    return output_of(prediction, use_file_output)


def _left(deadline: Optional[float]) -> Optional[float]:
    return None if deadline is None else max(0.0, deadline - time.monotonic())
