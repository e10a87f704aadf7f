"""Versions under the official client's module path, ``replicate.version``.

``from replicate.version import Version`` keeps working after ``import replicate_min as
replicate`` (as a type, and as what ``model.versions.get`` returns).
"""

from __future__ import annotations

from ._models import ModelVersions as Versions
from ._models import Version

__all__ = ["Version", "Versions"]
