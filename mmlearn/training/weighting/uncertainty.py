"""Uncertainty weighting with a learned log-variance per task (Kendall, Gal and Cipolla, 2018)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from mmlearn.training.weighting.base import LossWeighting, WeightedLoss


class UncertaintyWeighting(LossWeighting):
    """Weigh each task by the inverse of a learned variance of its loss.

    Each task ``t`` has a learned ``s_t = log sigma_t^2``, starting at 0, and adds
    ``w_t * (exp(-s_t) * L_t + s_t)`` to the total, where ``w_t`` is its configured
    weight. A noisy or hard task raises its ``s_t`` and so lowers its weight
    ``exp(-s_t)``; the ``+ s_t`` term keeps the variances from growing without
    bound. This is the form most implementations use for classification, without the
    paper's factor 1/2, which only rescales the total.

    The log-variances are trained by the main optimizer, including its weight decay,
    which pulls them gently towards 0.
    """

    def __init__(self, task_weights: Mapping[str, float]):
        super().__init__(task_weights)
        self.log_variance = nn.Parameter(torch.zeros(len(self.tasks)))

    def forward(
        self, losses: Mapping[str, torch.Tensor], labelled: Mapping[str, bool]
    ) -> WeightedLoss:
        precision = torch.exp(-self.log_variance)
        weighted = self._combine(losses, labelled, precision)
        regularizer = torch.zeros((), device=precision.device)
        for index, task in enumerate(self.tasks):
            if labelled[task]:
                regularizer = regularizer + self.task_weights[index] * self.log_variance[index]
        return weighted._replace(total=weighted.total + regularizer)
