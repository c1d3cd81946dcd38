"""Cross-attention fusion: the tokens of one modality attend to the tokens of the others."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from mmlearn.models.fusion.base import FusionOutput

TokenSequences = Mapping[str, tuple[torch.Tensor, torch.Tensor]]


class CrossAttentionFusion(nn.Module):
    """Text tokens (by default) attend to the image and audio tokens.

    The query sequence is a learned summary token followed by the tokens of
    ``query_modality``. The memory is a learned null token followed by the tokens of
    every other modality, each with a learned modality embedding. Transformer decoder
    layers run self-attention over the queries and cross-attention into the memory,
    with the tokens of absent modalities and padding masked out. The null token gives
    a sample with nothing to attend to (no image, no audio) a harmless target, and the
    summary token gives a sample without the query modality a query. The fused vector
    is the mean of the unmasked query outputs, projected to ``output_dim``.

    Inputs: ``features[m]`` (B, dim), ``present[m]`` bool (B,) and ``tokens[m]`` =
    (tokens (B, T_m, dim), mask bool (B, T_m)).
    Returns: ``FusionOutput`` with ``fused`` (B, output_dim) and no weights.
    """

    uses_tokens = True

    def __init__(
        self,
        modalities: Sequence[str],
        dim: int,
        hidden_dim: int = 256,
        output_dim: int = 256,
        dropout: float = 0.1,
        num_heads: int = 4,
        num_layers: int = 1,
        query_modality: str = "text",
    ):
        super().__init__()
        self.modalities = list(modalities)
        if query_modality not in self.modalities or len(self.modalities) < 2:
            raise ValueError(
                f"cross-attention fusion needs the query modality {query_modality!r} and at "
                f"least one other, but the model encodes {self.modalities}"
            )
        if dim % num_heads:
            raise ValueError(f"the modality width {dim} is not divisible by num_heads {num_heads}")
        self.query_modality = query_modality
        self.memory_modalities = [m for m in self.modalities if m != query_modality]
        self.summary = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.null = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.modality_embedding = nn.ParameterDict(
            {m: nn.Parameter(torch.randn(dim) * 0.02) for m in self.memory_modalities}
        )
        self.layers = nn.ModuleList(
            [
                nn.TransformerDecoderLayer(
                    dim, num_heads, hidden_dim, dropout, activation="gelu", batch_first=True
                )
                for _ in range(num_layers)
            ]
        )
        self.output = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, output_dim), nn.GELU())
        self.output_dim = output_dim

    def forward(
        self,
        features: Mapping[str, torch.Tensor],
        present: Mapping[str, torch.Tensor],
        tokens: TokenSequences,
    ) -> FusionOutput:
        query_tokens, query_mask = tokens[self.query_modality]
        batch_size = query_tokens.shape[0]
        always = torch.ones(batch_size, 1, dtype=torch.bool, device=query_tokens.device)
        summary = self.summary.to(query_tokens.dtype).expand(batch_size, -1, -1)
        queries = torch.cat([summary, query_tokens], dim=1)
        keep_query = query_mask & present[self.query_modality].unsqueeze(1)
        keep_query = torch.cat([always, keep_query], dim=1)

        memory = [self.null.to(query_tokens.dtype).expand(batch_size, -1, -1)]
        keep_memory = [always]
        for name in self.memory_modalities:
            values, mask = tokens[name]
            memory.append(values + self.modality_embedding[name].to(values.dtype))
            keep_memory.append(mask & present[name].unsqueeze(1))
        memory_t = torch.cat(memory, dim=1)
        keep_memory_t = torch.cat(keep_memory, dim=1)

        x = queries
        for layer in self.layers:
            x = layer(
                x,
                memory_t,
                tgt_key_padding_mask=~keep_query,
                memory_key_padding_mask=~keep_memory_t,
            )
        weights = keep_query.unsqueeze(-1).to(x.dtype)
        pooled = (x * weights).sum(dim=1) / weights.sum(dim=1)
        return FusionOutput(self.output(pooled))
