"""Fusion settings as a plain dataclass, so configs and checkpoints hold no modules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FusionKind = Literal[
    "concat", "mean", "sum", "gated", "attention", "cross_attention", "low_rank", "late"
]


@dataclass
class FusionConfig:
    """The fusion strategy that turns projected modality features into one vector.

    Late fusion returns logits instead.

    ``kind`` picks the strategy:

    - ``concat``: concatenation and an MLP, with learned embeddings for absent modalities;
    - ``mean`` or ``sum``: pooled features of the present modalities and an MLP;
    - ``gated``: a gated multimodal unit; its gates are logged as modality weights;
    - ``attention``: a transformer over one token per modality (``num_heads``,
      ``num_layers``), pooled by a learned query; with ``tokens: true`` over the
      encoders' token sequences instead;
    - ``cross_attention``: the tokens of ``query_modality`` attend to the tokens of
      the other modalities (``num_heads``, ``num_layers``);
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
    tokens: bool = False
    query_modality: str = "text"
    rank: int = 4
    late_weights: Literal["learned", "fixed"] = "learned"

    @property
    def has_weights(self) -> bool:
        """Whether the strategy returns a weight per modality and sample."""
        return self.kind in ("mean", "gated", "attention", "late")

    @property
    def uses_tokens(self) -> bool:
        """Whether the strategy reads the encoders' token sequences."""
        return self.kind == "cross_attention" or (self.kind == "attention" and self.tokens)
