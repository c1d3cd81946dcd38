"""Multitask loss weighting: how per-task losses become the one loss that is minimized."""

from mmlearn.training.weighting.base import LossWeighting, WeightedLoss
from mmlearn.training.weighting.config import WeightingConfig, build_weighting
from mmlearn.training.weighting.dwa import DynamicWeightAverage
from mmlearn.training.weighting.gradnorm import GradNorm, shared_fusion_parameters
from mmlearn.training.weighting.static import StaticWeighting
from mmlearn.training.weighting.uncertainty import UncertaintyWeighting

__all__ = [
    "DynamicWeightAverage",
    "GradNorm",
    "LossWeighting",
    "StaticWeighting",
    "UncertaintyWeighting",
    "WeightedLoss",
    "WeightingConfig",
    "build_weighting",
    "shared_fusion_parameters",
]
