"""File outputs under the official client's module path, ``replicate.helpers``.

``from replicate.helpers import FileOutput`` keeps working after ``import replicate_min as
replicate``. Our ``FileOutput`` is also a ``str`` of its URL (see ``_files.FileOutput``).
"""

from __future__ import annotations

from typing import Any, Optional

from ._files import FileOutput
from ._files import transform_output as _transform_output
from ._requester import Requester, default_requester

__all__ = ["FileOutput", "transform_output"]


def transform_output(value: Any, client: Optional[Any] = None) -> Any:
    """``value`` with every ``https:``/``data:`` URL in it (nested too) as a ``FileOutput``.

    Args:
        client: the ``Client`` (or its requester) whose settings fetch the files, as the
            official ``transform_output(value, client)`` takes it; else the default client's.
    """
    requester = getattr(client, "requester", client)
    if requester is None:
        requester = default_requester()
    if not isinstance(requester, Requester):
        raise TypeError(f"client must be a replicate_min Client, got {type(client).__name__}")
    return _transform_output(value, requester)
