"""Multitask loss weighting settings, and the function that builds a scheme from them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from torch import nn

from mmlearn.errors import ConfigError
from mmlearn.training.weighting.base import LossWeighting
from mmlearn.training.weighting.dwa import DynamicWeightAverage
from mmlearn.training.weighting.gradnorm import GradNorm, shared_fusion_parameters
from mmlearn.training.weighting.static import StaticWeighting
from mmlearn.training.weighting.uncertainty import UncertaintyWeighting


@dataclass
class WeightingConfig:
    """The scheme that weights the task losses in the total.

    Attributes
    ----------
    kind:
        ``static`` (the task weights from config), ``uncertainty`` (a learned
        log-variance per task), ``dwa`` (dynamic weight average) or ``gradnorm``
        (learned weights that balance gradient norms). The adaptive schemes multiply
        the configured task weights by their own.
    temperature:
        With ``dwa``, the softmax temperature over the tasks' loss ratios; a higher
        one makes the weights more even.
    alpha:
        With ``gradnorm``, how strongly tasks that train more slowly are favoured; 0
        only equalizes the gradient norms.
    """

    kind: Literal["static", "uncertainty", "dwa", "gradnorm"] = "static"
    temperature: float = 2.0
    alpha: float = 1.5


def build_weighting(
    config: WeightingConfig,
    task_weights: Mapping[str, float],
    fusion: nn.Module,
) -> LossWeighting:
    """Build the scheme that ``config.kind`` names; GradNorm watches a layer of ``fusion``."""
    if config.kind == "static":
        return StaticWeighting(task_weights)
    if config.kind == "uncertainty":
        return UncertaintyWeighting(task_weights)
    if config.kind == "dwa":
        return DynamicWeightAverage(task_weights, config.temperature)
    if config.kind == "gradnorm":
        return GradNorm(task_weights, shared_fusion_parameters(fusion), config.alpha)
    raise ConfigError(
        f"invalid model.loss_weighting.kind {config.kind!r}; "
        "use static, uncertainty, dwa or gradnorm"
    )
