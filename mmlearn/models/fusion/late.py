"""Late fusion: one head per modality, with their logits averaged over the modalities present."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import torch
from torch import nn

from mmlearn.models.fusion.base import FusionOutput, stack_present
from mmlearn.models.heads import LinearHead


class LateFusion(nn.Module):
    """Predict from each modality alone, then average the logits of the present ones.

    Each modality has its own head per task. The weights over modalities are a
    softmax of one learned score per modality (``weights: learned``) or equal
    (``weights: fixed``), renormalized over the modalities a sample has. ``fused`` is
    the same weighted average of the modality features, for uses that need one vector.

    Inputs: ``features[m]`` (B, dim) and ``present[m]`` bool (B,).
    Returns: ``FusionOutput`` with ``fused`` (B, dim), the weights (B, M) and
    ``logits`` per task.
    """

    def __init__(
        self,
        modalities: Sequence[str],
        dim: int,
        head_sizes: Mapping[str, int],
        dropout: float = 0.1,
        weights: Literal["learned", "fixed"] = "learned",
    ):
        super().__init__()
        if weights not in ("learned", "fixed"):
            raise ValueError(f"invalid late-fusion weights {weights!r}; use 'learned' or 'fixed'")
        self.modalities = list(modalities)
        self.heads = nn.ModuleDict(
            {
                name: nn.ModuleDict(
                    {task: LinearHead(dim, size, dropout) for task, size in head_sizes.items()}
                )
                for name in self.modalities
            }
        )
        scores = torch.zeros(len(self.modalities))
        if weights == "learned":
            self.scores = nn.Parameter(scores)
        else:
            self.register_buffer("scores", scores)
        self.output_dim = dim

    def forward(
        self, features: Mapping[str, torch.Tensor], present: Mapping[str, torch.Tensor]
    ) -> FusionOutput:
        stacked, mask = stack_present(self.modalities, features, present)
        scores = self.scores.to(stacked.dtype).expand(mask.shape)
        # A sample with no modality present weighs them all equally.
        usable = mask | ~mask.any(dim=1, keepdim=True)
        weights = scores.masked_fill(~usable, float("-inf")).softmax(dim=1)
        logits = {}
        for task in self.heads[self.modalities[0]]:
            per_modality = torch.stack(
                [self.heads[name][task](features[name]) for name in self.modalities], dim=1
            )
            logits[task] = (per_modality * weights.unsqueeze(-1)).sum(dim=1)
        fused = (stacked * weights.unsqueeze(-1)).sum(dim=1)
        return FusionOutput(fused, weights, logits)
