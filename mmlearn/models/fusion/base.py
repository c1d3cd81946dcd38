"""The fusion output type and the helpers that every fusion strategy shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch
from torch import nn


class FusionOutput(NamedTuple):
    """The fused vector, and the weight each modality got where the strategy has one.

    ``fused``: (B, output_dim). ``weights``: (B, M) in the fusion's modality order, 0
    for absent modalities, or ``None`` for strategies without per-modality weights.
    ``logits``: per task, for strategies that predict themselves (late fusion); the
    model's heads are used when it is ``None``.
    """

    fused: torch.Tensor
    weights: torch.Tensor | None = None
    logits: dict[str, torch.Tensor] | None = None


def stack_present(
    modalities: Sequence[str],
    features: Mapping[str, torch.Tensor],
    present: Mapping[str, torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack features to (B, M, dim) and masks to bool (B, M), in ``modalities`` order."""
    stacked = torch.stack([features[name] for name in modalities], dim=1)
    mask = torch.stack([present[name].to(stacked.device) for name in modalities], dim=1)
    return stacked, mask


def mlp(input_dim: int, hidden_dim: int, output_dim: int, dropout: float) -> nn.Sequential:
    """Two linear layers with GELU and dropout after each."""
    return nn.Sequential(
        nn.Linear(input_dim, hidden_dim),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Linear(hidden_dim, output_dim),
        nn.GELU(),
        nn.Dropout(dropout),
    )
