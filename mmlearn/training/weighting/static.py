"""Static weighting: each task's loss times its configured weight."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from mmlearn.training.weighting.base import LossWeighting, WeightedLoss


class StaticWeighting(LossWeighting):
    """``total = sum_t w_t * L_t`` with the weights from the task configs."""

    def forward(
        self, losses: Mapping[str, torch.Tensor], labelled: Mapping[str, bool]
    ) -> WeightedLoss:
        return self._combine(losses, labelled, torch.ones_like(self.task_weights))
