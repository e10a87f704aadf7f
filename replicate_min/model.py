"""Models under the official client's module path, ``replicate.model``.

``from replicate.model import Model`` keeps working after ``import replicate_min as
replicate``. Read-only: ``models.get`` and a model's ``versions``.
"""

from __future__ import annotations

from ._models import Model, ModelVersions

__all__ = ["Model", "ModelVersions"]
