"""Pagination under the official client's module path, ``replicate.pagination``.

``from replicate.pagination import Page, paginate`` keeps working after
``import replicate_min as replicate``: the same objects as ``replicate_min.Page`` and
``replicate_min.paginate``.
"""

from __future__ import annotations

from ._pagination import Page, async_paginate, paginate

__all__ = ["Page", "async_paginate", "paginate"]
