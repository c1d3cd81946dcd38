"""Fusion strategies: each combines per-modality features of a shared width.

Every strategy takes ``features[m]`` (B, dim) and ``present[m]`` bool (B,) for each
modality and returns a ``FusionOutput``. An absent modality never changes the output
of a sample except through what the strategy learned for absence.
"""

from mmlearn.models.fusion.attention import AttentionFusion
from mmlearn.models.fusion.base import FusionOutput
from mmlearn.models.fusion.concat import ConcatFusion
from mmlearn.models.fusion.config import FusionConfig
from mmlearn.models.fusion.cross_attention import CrossAttentionFusion
from mmlearn.models.fusion.gated import GatedFusion
from mmlearn.models.fusion.late import LateFusion
from mmlearn.models.fusion.low_rank import LowRankTensorFusion
from mmlearn.models.fusion.pooled import PooledFusion

__all__ = [
    "AttentionFusion",
    "ConcatFusion",
    "CrossAttentionFusion",
    "FusionConfig",
    "FusionOutput",
    "GatedFusion",
    "LateFusion",
    "LowRankTensorFusion",
    "PooledFusion",
]
