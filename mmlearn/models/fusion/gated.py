"""Gated fusion: a gated multimodal unit over any number of modalities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from mmlearn.models.fusion.base import FusionOutput, mlp, stack_present


class GatedFusion(nn.Module):
    """Weigh each modality by a learned, input-dependent gate (a gated multimodal unit).

    Each modality's feature passes through its own ``tanh`` layer. A gate network reads
    all features together (absent ones replaced by a learned embedding) and gives one
    logit per modality. A softmax over the present modalities turns these into gates
    that sum to 1. The fused vector is the gated sum, mixed by a two-layer MLP.
    With two modalities this is the gated multimodal unit of Arevalo et al. (2017),
    with a softmax in place of its sigmoid so that it extends to more modalities.

    Inputs: ``features[m]`` (B, dim) and ``present[m]`` bool (B,).
    Returns: ``FusionOutput`` with ``fused`` (B, output_dim) and the gates (B, M), 0
    for absent modalities, for logging and plots.
    """

    def __init__(
        self,
        modalities: Sequence[str],
        dim: int,
        hidden_dim: int = 256,
        output_dim: int = 256,
        dropout: float = 0.1,
    ):
        super().__init__()
        self.modalities = list(modalities)
        self.transforms = nn.ModuleDict(
            {name: nn.Sequential(nn.Linear(dim, dim), nn.Tanh()) for name in self.modalities}
        )
        self.absent = nn.Parameter(torch.zeros(len(self.modalities), dim))
        self.gate = nn.Linear(dim * len(self.modalities), len(self.modalities))
        self.mlp = mlp(dim, hidden_dim, output_dim, dropout)
        self.output_dim = output_dim

    def forward(
        self, features: Mapping[str, torch.Tensor], present: Mapping[str, torch.Tensor]
    ) -> FusionOutput:
        stacked, mask = stack_present(self.modalities, features, present)
        filled = torch.where(mask.unsqueeze(-1), stacked, self.absent.to(stacked.dtype))
        logits = self.gate(filled.flatten(1)).masked_fill(~mask, float("-inf"))
        gates = logits.softmax(dim=1).nan_to_num(0.0)  # a row with nothing present gets 0
        transformed = torch.stack(
            [self.transforms[name](features[name]) for name in self.modalities], dim=1
        )
        fused = (transformed * gates.unsqueeze(-1)).sum(dim=1)
        return FusionOutput(self.mlp(fused), gates)
