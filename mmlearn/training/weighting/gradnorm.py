"""GradNorm (Chen, Badrinarayanan, Lee and Rabinovich, 2018)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from mmlearn.errors import ConfigError
from mmlearn.models.fusion import LateFusion, LowRankTensorFusion
from mmlearn.training.weighting.base import LossWeighting, WeightedLoss


class GradNorm(LossWeighting):
    """Learn task weights that balance the tasks' gradient norms on a shared layer.

    For each labelled task, ``G_t = w_t * ||grad_W L_t||`` is the norm of its weighted
    loss's gradient on the shared parameters ``W`` (the fusion's last layer). Tasks
    that have trained more slowly, measured by ``L_t / L_t(0)`` relative to the mean
    over tasks, should get larger gradients. The weights learn from
    ``L_grad = sum_t |G_t - mean(G) * r_t ** alpha|``, with the target held fixed, and
    the network learns from ``sum_t w_t * L_t`` with the weights held fixed. After
    each step the weights are rescaled to sum to the number of tasks. ``alpha`` sets
    how strongly slow tasks are favoured; 0 just equalizes the gradient norms.

    ``L_t(0)`` is each task's loss at the first batch with labels for it; it is a
    buffer, so a resumed run keeps it.

    Parameters
    ----------
    shared_parameters:
        The shared parameters ``W``. They belong to the model; this module keeps plain
        references to them, so they are not registered (or saved) twice.
    """

    def __init__(
        self,
        task_weights: Mapping[str, float],
        shared_parameters: Sequence[nn.Parameter],
        alpha: float = 1.5,
    ):
        super().__init__(task_weights)
        self.alpha = alpha
        self.shared_parameters = list(shared_parameters)
        self.weights = nn.Parameter(torch.ones(len(self.tasks)))
        self.register_buffer("initial_losses", torch.full((len(self.tasks),), float("nan")))

    @torch.no_grad()
    def renormalize(self) -> None:
        """Keep the weights positive and summing to the number of tasks."""
        self.weights.clamp_(min=1e-3)
        self.weights.mul_(len(self.tasks) / self.weights.sum())

    def forward(
        self, losses: Mapping[str, torch.Tensor], labelled: Mapping[str, bool]
    ) -> WeightedLoss:
        self.renormalize()
        weighted = self._combine(losses, labelled, self.weights.detach())
        active = [index for index, task in enumerate(self.tasks) if labelled[task]]
        if not (self.training and torch.is_grad_enabled() and len(active) > 1):
            return weighted

        # NOTE: untested under DDP. autograd.grad here reads local gradients only, so
        # each process balances its own batch's gradient norms.
        shared = [p for p in self.shared_parameters if p.requires_grad]
        norms, ratios = [], []
        for index in active:
            loss = losses[self.tasks[index]].float()
            if torch.isnan(self.initial_losses[index]):
                self.initial_losses[index] = loss.detach()
            gradients = torch.autograd.grad(loss, shared, retain_graph=True, allow_unused=True)
            squared = sum((g.detach() ** 2).sum() for g in gradients if g is not None)
            norm = torch.as_tensor(squared, device=loss.device).sqrt()
            norms.append(self.weights[index] * self.task_weights[index] * norm)
            ratios.append(loss.detach() / self.initial_losses[index].clamp(min=1e-12))
        norms_t = torch.stack(norms)
        ratios_t = torch.stack(ratios)
        relative = ratios_t / ratios_t.mean()
        target = (norms_t.mean() * relative**self.alpha).detach()
        return weighted._replace(auxiliary=(norms_t - target).abs().sum())


def shared_fusion_parameters(fusion: nn.Module) -> list[nn.Parameter]:
    """Return the fusion parameters that every task's gradient passes through last.

    That is the weight of the fusion's last linear layer, or the factors of low-rank
    fusion. Late fusion has no shared layer (each modality has its own heads), so
    GradNorm cannot watch it.
    """
    if isinstance(fusion, LateFusion):
        raise ConfigError(
            "GradNorm needs a fusion layer that all tasks share, and late fusion has none; "
            "use another model.fusion.kind or another model.loss_weighting.kind"
        )
    if isinstance(fusion, LowRankTensorFusion):
        return [fusion.factors]
    linears = [m for m in fusion.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ConfigError(f"{type(fusion).__name__} has no linear layer for GradNorm to watch")
    return [linears[-1].weight]
