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

    With ``tokens=True`` the transformer runs over the encoders' token sequences
    instead (text tokens, image feature-map cells, audio frames). Each token gets its
    modality's embedding, padding is masked out, and a modality's weight is the
    query's attention summed over its tokens.

    Inputs: ``features[m]`` (B, dim) and ``present[m]`` bool (B,); with ``tokens``
    also ``tokens[m]`` = (tokens (B, T_m, dim), mask bool (B, T_m)).
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
        tokens: bool = False,
    ):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"the modality width {dim} is not divisible by num_heads {num_heads}")
        self.modalities = list(modalities)
        self.uses_tokens = tokens
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
        self,
        features: Mapping[str, torch.Tensor],
        present: Mapping[str, torch.Tensor],
        tokens: Mapping[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> FusionOutput:
        if self.uses_tokens:
            if tokens is None:
                raise ValueError("this attention fusion reads token sequences; pass tokens")
            sequence, keep, owner = self._token_sequence(present, tokens)
        else:
            stacked, keep = stack_present(self.modalities, features, present)
            sequence = stacked + self.modality_embedding.to(stacked.dtype)
            owner = None
        ignore = ~keep
        ignore[~keep.any(dim=1)] = False
        sequence = self.encoder(sequence, src_key_padding_mask=ignore)
        query = self.query.to(sequence.dtype).expand(sequence.shape[0], -1, -1)
        pooled, weights = self.pool(query, sequence, sequence, key_padding_mask=ignore)
        weights = weights[:, 0]
        if owner is not None:
            # Sum the attention over each modality's tokens: (B, T) -> (B, M).
            weights = weights @ owner.to(weights.dtype)
        return FusionOutput(self.output(pooled[:, 0]), weights)

    def _token_sequence(
        self,
        present: Mapping[str, torch.Tensor],
        tokens: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Concatenate every modality's tokens; also return the mask and a (T, M) owner map."""
        parts, keeps, owners = [], [], []
        for index, name in enumerate(self.modalities):
            values, mask = tokens[name]
            parts.append(values + self.modality_embedding[index].to(values.dtype))
            keeps.append(mask & present[name].to(mask.device).unsqueeze(1))
            owner = torch.zeros(values.shape[1], len(self.modalities), device=values.device)
            owner[:, index] = 1.0
            owners.append(owner)
        return torch.cat(parts, dim=1), torch.cat(keeps, dim=1), torch.cat(owners)
