"""Predictions under the official client's module path, ``replicate.prediction``.

``from replicate.prediction import Prediction`` keeps working after ``import replicate_min
as replicate``: the same classes as ``replicate_min.Prediction`` and ``replicate_min.Predictions``.
"""

from __future__ import annotations

from ._prediction import Prediction, Predictions

__all__ = ["Prediction", "Predictions"]
