"""Fusion settings as a plain dataclass, so configs and checkpoints hold no modules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FusionKind = Literal["concat", "mean", "sum", "gated", "attention", "low_rank", "late"]


@dataclass
class FusionConfig:
    """The fusion strategy that turns projected modality features into one vector.

    Late fusion returns logits instead.

    ``kind`` picks the strategy:

    - ``concat``: concatenation and an MLP, with learned embeddings for absent modalities;
    - ``mean`` or ``sum``: pooled features of the present modalities and an MLP;
    - ``gated``: a gated multimodal unit; its gates are logged as modality weights;
    - ``attention``: a transformer over one token per modality (``num_heads``,
      ``num_layers``), pooled by a learned query;
    - ``low_rank``: low-rank tensor fusion with ``rank`` factors per modality;
    - ``late``: a head per modality, logits averaged with ``late_weights``.

    ``hidden_dim`` is the width of the MLPs (and of the transformer's feed-forward
    layer) and the fused vector's width; ``dropout`` applies inside fusion.
    """

    kind: FusionKind = "concat"
    hidden_dim: int = 256
    dropout: float = 0.1
    num_heads: int = 4
    num_layers: int = 1
    rank: int = 4
    late_weights: Literal["learned", "fixed"] = "learned"

    @property
    def has_weights(self) -> bool:
        """Whether the strategy returns a weight per modality and sample."""
        return self.kind in ("mean", "gated", "attention", "late")
