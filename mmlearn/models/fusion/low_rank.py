"""Low-rank tensor fusion: multiplicative interactions of all modalities through rank-R factors."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from mmlearn.models.fusion.base import FusionOutput, stack_present


class LowRankTensorFusion(nn.Module):
    """Low-rank multimodal fusion (Liu et al., 2018).

    Tensor fusion takes the outer product of ``[x_m, 1]`` over the modalities, so the
    fused vector contains every unimodal, bimodal and trimodal product of features; the
    trailing 1 keeps the lower-order terms. That tensor is too large to build, so the
    weight on it is factored into ``rank`` terms, one factor per modality:
    ``fused = sum_r w_r * prod_m ([x_m, 1] @ W_m[r]) + b``.

    An absent modality contributes ``[0, ..., 0, 1]``: only its constant column, so the
    products reduce to the interactions of the modalities that are present.

    Inputs: ``features[m]`` (B, dim) and ``present[m]`` bool (B,).
    Returns: ``FusionOutput`` with ``fused`` (B, output_dim) and no weights.
    """

    def __init__(
        self,
        modalities: Sequence[str],
        dim: int,
        output_dim: int = 256,
        dropout: float = 0.1,
        rank: int = 4,
    ):
        super().__init__()
        if rank < 1:
            raise ValueError(f"invalid rank {rank}; use 1 or more")
        self.modalities = list(modalities)
        count = len(self.modalities)
        # Unit-scale inputs give unit-scale projections, so their product stays near 1.
        std = 1.0 / math.sqrt(dim + 1)
        self.factors = nn.Parameter(torch.randn(count, rank, dim + 1, output_dim) * std)
        self.rank_weights = nn.Parameter(torch.full((rank,), 1.0 / rank))
        self.bias = nn.Parameter(torch.zeros(output_dim))
        self.dropout = nn.Dropout(dropout)
        self.output_dim = output_dim

    def forward(
        self, features: Mapping[str, torch.Tensor], present: Mapping[str, torch.Tensor]
    ) -> FusionOutput:
        stacked, mask = stack_present(self.modalities, features, present)
        stacked = stacked * mask.unsqueeze(-1).to(stacked.dtype)
        ones = stacked.new_ones(*stacked.shape[:2], 1)
        augmented = torch.cat([stacked, ones], dim=-1)  # (B, M, dim + 1)
        # (B, M, rank, output_dim): each modality's projection through each rank factor.
        projected = torch.einsum("bmd,mrdo->bmro", augmented, self.factors.to(stacked.dtype))
        product = projected.prod(dim=1)  # (B, rank, output_dim)
        fused = torch.einsum("bro,r->bo", product, self.rank_weights.to(stacked.dtype))
        return FusionOutput(self.dropout(torch.relu(fused + self.bias)))
