"""The interface that every multitask loss weighting implements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import torch
from torch import nn


class WeightedLoss(NamedTuple):
    """The weighted total of the task losses, and what produced it.

    ``total`` is what the module logs as the loss. ``weights`` gives the effective
    weight of each task (its configured weight times the adaptive one), detached.
    ``auxiliary`` is an extra term that only trains the weighting itself (GradNorm).
    The module adds it before the backward pass but does not log it as the loss.
    """

    total: torch.Tensor
    weights: dict[str, torch.Tensor]
    auxiliary: torch.Tensor | None = None


class LossWeighting(nn.Module):
    """Combine per-task losses into one; subclasses choose the weights.

    ``task_weights`` are the configured weights (``TaskConfig.weight``); every scheme
    multiplies its own weights by them. ``forward`` takes each task's loss and whether
    the batch had any label for it. A task without labels adds nothing to the total
    and leaves the scheme's state unchanged.
    """

    def __init__(self, task_weights: Mapping[str, float]):
        super().__init__()
        self.tasks = list(task_weights)
        self.register_buffer(
            "task_weights", torch.tensor([task_weights[t] for t in self.tasks], dtype=torch.float32)
        )

    def forward(
        self, losses: Mapping[str, torch.Tensor], labelled: Mapping[str, bool]
    ) -> WeightedLoss:
        raise NotImplementedError

    def end_epoch(self) -> None:
        """Called after each training epoch; schemes that use epoch losses update here."""

    def _combine(
        self,
        losses: Mapping[str, torch.Tensor],
        labelled: Mapping[str, bool],
        adaptive: torch.Tensor,
    ) -> WeightedLoss:
        """Return the sum of ``task_weight * adaptive * loss`` over the labelled tasks."""
        weights = self.task_weights.to(adaptive.device) * adaptive
        total = torch.zeros((), device=adaptive.device)
        for index, task in enumerate(self.tasks):
            if labelled[task]:
                total = total + weights[index] * losses[task].float()
            else:
                # Zero, but the task's head stays in the graph, which DDP expects.
                total = total + 0.0 * losses[task].float()
        named = {task: weights[index].detach() for index, task in enumerate(self.tasks)}
        return WeightedLoss(total, named)
