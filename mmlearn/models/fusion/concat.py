"""Concatenation fusion followed by an MLP."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from mmlearn.models.fusion.base import FusionOutput, mlp


class ConcatFusion(nn.Module):
    """Concatenate ``[x_text, x_image, x_audio]`` and mix them with a two-layer MLP.

    An absent modality is replaced by a learned embedding of that modality, so the MLP
    never reads a fabricated feature as real and can tell "absent" from any real input.

    Parameters
    ----------
    modalities:
        The modality names, in concatenation order.
    dim:
        The width of each modality's projected feature.
    hidden_dim, output_dim:
        The MLP's hidden and output widths.

    Inputs: ``features[m]`` (B, dim) and ``present[m]`` bool (B,) for each modality.
    Returns: ``FusionOutput`` with ``fused`` (B, output_dim) and no weights.
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
        self.absent = nn.ParameterDict(
            {name: nn.Parameter(torch.zeros(dim)) for name in self.modalities}
        )
        self.mlp = mlp(dim * len(self.modalities), hidden_dim, output_dim, dropout)
        self.output_dim = output_dim

    def forward(
        self, features: Mapping[str, torch.Tensor], present: Mapping[str, torch.Tensor]
    ) -> FusionOutput:
        parts = []
        for name in self.modalities:
            x = features[name]
            mask = present[name].to(device=x.device).unsqueeze(-1)
            parts.append(torch.where(mask, x, self.absent[name].to(x.dtype).expand_as(x)))
        return FusionOutput(self.mlp(torch.cat(parts, dim=-1)))
