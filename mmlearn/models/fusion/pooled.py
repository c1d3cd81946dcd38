"""Mean or sum of the present modalities' features, followed by an MLP."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch
from torch import nn

from mmlearn.models.fusion.base import FusionOutput, mlp, stack_present


class PooledFusion(nn.Module):
    """Average (``mean``) or add (``sum``) the projected features of present modalities.

    Absent modalities are left out: the mean divides by the number present, and the
    sum adds nothing for them. The pooled vector goes through a two-layer MLP. With
    ``mean`` the result does not depend on how many modalities a sample has, which
    suits data where modalities are often missing. With ``sum`` that count shows in
    the vector's scale.

    Inputs: ``features[m]`` (B, dim) and ``present[m]`` bool (B,).
    Returns: ``FusionOutput`` with ``fused`` (B, output_dim) and, for ``mean``, each
    modality's weight (1 / the number present).
    """

    def __init__(
        self,
        modalities: Sequence[str],
        dim: int,
        hidden_dim: int = 256,
        output_dim: int = 256,
        dropout: float = 0.1,
        reduction: Literal["mean", "sum"] = "mean",
    ):
        super().__init__()
        if reduction not in ("mean", "sum"):
            raise ValueError(f"invalid reduction {reduction!r}; use 'mean' or 'sum'")
        self.modalities = list(modalities)
        self.reduction = reduction
        self.mlp = mlp(dim, hidden_dim, output_dim, dropout)
        self.output_dim = output_dim

    def forward(
        self, features: Mapping[str, torch.Tensor], present: Mapping[str, torch.Tensor]
    ) -> FusionOutput:
        stacked, mask = stack_present(self.modalities, features, present)
        weights = mask.to(stacked.dtype)
        if self.reduction == "mean":
            weights = weights / weights.sum(dim=1, keepdim=True).clamp(min=1.0)
        pooled = (stacked * weights.unsqueeze(-1)).sum(dim=1)
        return FusionOutput(self.mlp(pooled), weights if self.reduction == "mean" else None)
