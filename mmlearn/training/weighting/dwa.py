"""Dynamic weight average (Liu, Johns and Davison, 2019)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.distributed as dist

from mmlearn.training.weighting.base import LossWeighting, WeightedLoss


class DynamicWeightAverage(LossWeighting):
    """Give more weight to the tasks whose loss fell least over the last epoch.

    With ``r_t = L_t(e - 1) / L_t(e - 2)``, the ratio of a task's mean training loss
    in the last two epochs, epoch ``e`` uses the weights
    ``K * softmax(r / temperature)`` over the ``K`` tasks, times the configured
    weights. The first two epochs, which lack two earlier epochs, use 1 for every task.
    A higher ``temperature`` makes the weights more even.

    The epoch means count only batches with labels for the task, are summed over all
    processes under DDP, and are kept in buffers so that they survive a resume.
    """

    def __init__(self, task_weights: Mapping[str, float], temperature: float = 2.0):
        super().__init__(task_weights)
        if temperature <= 0:
            raise ValueError(f"invalid DWA temperature {temperature}; use a positive number")
        self.temperature = temperature
        count = len(self.tasks)
        # Mean loss per task of the last two epochs, oldest first; NaN until known.
        self.register_buffer("history", torch.full((2, count), float("nan")))
        self.register_buffer("loss_sums", torch.zeros(count))
        self.register_buffer("batch_counts", torch.zeros(count))

    def current_weights(self) -> torch.Tensor:
        """Return the adaptive weights (K,) that this epoch uses."""
        if torch.isnan(self.history).any():
            return torch.ones(len(self.tasks), device=self.history.device)
        ratio = self.history[1] / self.history[0].clamp(min=1e-12)
        return len(self.tasks) * torch.softmax(ratio / self.temperature, dim=0)

    def forward(
        self, losses: Mapping[str, torch.Tensor], labelled: Mapping[str, bool]
    ) -> WeightedLoss:
        if self.training:
            for index, task in enumerate(self.tasks):
                if labelled[task]:
                    self.loss_sums[index] += losses[task].detach().float()
                    self.batch_counts[index] += 1
        return self._combine(losses, labelled, self.current_weights())

    def end_epoch(self) -> None:
        sums, counts = self.loss_sums.clone(), self.batch_counts.clone()
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(sums)
            dist.all_reduce(counts)
        means = sums / counts  # NaN for a task without labels all epoch
        # Such a task keeps its last known mean, so its ratio does not jump.
        means = torch.where(counts > 0, means, self.history[1])
        self.history[0] = self.history[1]
        self.history[1] = means
        self.loss_sums.zero_()
        self.batch_counts.zero_()
