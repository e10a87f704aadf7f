"""``Client`` under the official client's module path, ``replicate.client``.

``from replicate.client import Client`` keeps working after ``import replicate_min as
replicate``: the same class as ``replicate_min.Client``.
"""

from __future__ import annotations

from ._client import Client

__all__ = ["Client"]
