"""Attention fusion: a small transformer over one token per modality."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from mmlearn.models.fusion.base import FusionOutput, stack_present


class AttentionFusion(nn.Module):
    """Let modalities attend to each other, then pool them with a learned query.

    Each modality's feature plus a learned modality embedding becomes one token. A
    transformer encoder runs over the tokens with absent modalities masked out of
    attention, so they change nothing. A learned query then attends over the present
    tokens. Its output, projected to ``output_dim``, is the fused vector, and its
    attention weights (averaged over heads) are the modality weights. A sample with
    no modality present attends to all tokens, which then carry only the modality
    embeddings.

    Inputs: ``features[m]`` (B, dim) and ``present[m]`` bool (B,).
    Returns: ``FusionOutput`` with ``fused`` (B, output_dim) and weights (B, M).
    """

    def __init__(
        self,
        modalities: Sequence[str],
        dim: int,
        hidden_dim: int = 256,
        output_dim: int = 256,
        dropout: float = 0.1,
        num_heads: int = 4,
        num_layers: int = 1,
    ):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"the modality width {dim} is not divisible by num_heads {num_heads}")
        self.modalities = list(modalities)
        self.modality_embedding = nn.Parameter(torch.randn(len(self.modalities), dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            dim, num_heads, hidden_dim, dropout, activation="gelu", batch_first=True
        )
        # The fast path returns zeros for masked tokens and warns about nested tensors.
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.query = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pool = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.output = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, output_dim), nn.GELU())
        self.output_dim = output_dim

    def forward(
        self, features: Mapping[str, torch.Tensor], present: Mapping[str, torch.Tensor]
    ) -> FusionOutput:
        stacked, mask = stack_present(self.modalities, features, present)
        tokens = stacked + self.modality_embedding.to(stacked.dtype)
        ignore = ~mask
        ignore[~mask.any(dim=1)] = False
        tokens = self.encoder(tokens, src_key_padding_mask=ignore)
        query = self.query.to(tokens.dtype).expand(tokens.shape[0], -1, -1)
        pooled, weights = self.pool(query, tokens, tokens, key_padding_mask=ignore)
        return FusionOutput(self.output(pooled[:, 0]), weights[:, 0])
