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

    Attributes
    ----------
    kind:
        The strategy. ``concat``: concatenation and an MLP, with learned embeddings for
        absent modalities. ``mean`` or ``sum``: pooled features of the present
        modalities and an MLP. ``gated``: a gated multimodal unit, whose gates are
        logged as modality weights. ``attention``: a transformer over one token per
        modality, pooled by a learned query. ``cross_attention``: the tokens of
        ``query_modality`` attend to the tokens of the other modalities.
        ``low_rank``: low-rank tensor fusion. ``late``: a head per modality, logits
        averaged with ``late_weights``.
    hidden_dim:
        The width of the MLPs (and of the transformer's feed-forward layer) and of the
        fused vector.
    dropout:
        Dropout inside fusion.
    num_heads:
        Attention heads of ``attention`` and ``cross_attention``.
    num_layers:
        Transformer layers of ``attention`` and ``cross_attention``.
    tokens:
        With ``attention``, attend over the encoders' token sequences instead of one
        token per modality.
    query_modality:
        With ``cross_attention``, the modality whose tokens attend to the others.
    rank:
        With ``low_rank``, the number of factors per modality.
    late_weights:
        With ``late``, ``learned`` or ``fixed`` (equal) weights over the modalities
        present.
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
