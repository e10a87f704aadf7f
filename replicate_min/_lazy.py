"""``Deferred``: a module imported on first attribute access (imports nothing of ours).

For annotations that name a class of a module that cannot (or should not) be imported
up front: ``typing.get_type_hints`` resolves ``_batch.Batch`` by attribute access, which
imports ``_batch`` then, not when the module holding the annotation loads.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Deferred"]


class Deferred:
    """Stands for the module ``name`` until an attribute of it is read."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(__import__(self._name, fromlist=["_"]), attribute)

    def __repr__(self) -> str:
        return f"<deferred module {self._name}>"
