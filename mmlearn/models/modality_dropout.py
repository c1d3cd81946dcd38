"""Modality dropout: hide whole modalities of random samples during training."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from mmlearn.errors import ConfigError


class ModalityDropout(nn.Module):
    """Mark each modality of each sample absent with probability ``p[modality]`` in training.

    Fusion then treats those samples as lacking the modality. This teaches the model to
    cope when a modality is missing at test time, and keeps it from leaning on one
    modality alone. A sample never loses all of its modalities: when every one it had
    would be dropped, it keeps them all. In evaluation mode the masks pass unchanged.

    Inputs: ``present[m]`` bool (B,). Returns: new ``present`` masks.
    """

    def __init__(self, p: Mapping[str, float]):
        super().__init__()
        for name, value in p.items():
            if not 0.0 <= value < 1.0:
                raise ConfigError(
                    f"invalid modality dropout {value} for {name!r}; use a probability in [0, 1)"
                )
        self.p = dict(p)

    def forward(self, present: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if not self.training or not any(self.p.values()):
            return dict(present)
        remaining = {}
        for name, mask in present.items():
            probability = self.p.get(name, 0.0)
            drop = torch.rand(mask.shape, device=mask.device) < probability
            remaining[name] = mask & ~drop
        any_left = torch.stack(list(remaining.values())).any(dim=0)
        return {name: torch.where(any_left, remaining[name], present[name]) for name in present}
