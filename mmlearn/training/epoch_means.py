"""Per-epoch weighted means of logged scalars that stay exact under DDP."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torchmetrics import MeanMetric


class EpochMeans(nn.Module):
    """A weighted mean over the epoch for each of ``keys``, such as ``val/loss``.

    Lightning's ``self.log(..., on_epoch=True, sync_dist=True)`` averages the
    processes' sample counts as integers (Lightning 2.6), which is wrong when the
    processes saw different numbers of samples: with 4 and 3 validation samples
    it divides by 3 instead of 3.5. Here each key is a torchmetrics ``MeanMetric``,
    whose weighted sum and total weight are summed over processes in ``compute``.
    """

    def __init__(self, keys: Sequence[str]):
        super().__init__()
        self.keys = list(keys)
        # Module names may not contain "."; logged keys contain "/" only.
        self.means = nn.ModuleDict({self._name(key): MeanMetric() for key in self.keys})

    @staticmethod
    def _name(key: str) -> str:
        return key.replace("/", "__")

    def update(self, key: str, value: torch.Tensor, weight: float) -> None:
        """Add ``value`` (a scalar) with ``weight``, usually the number of samples it covers."""
        self.means[self._name(key)].update(value.detach().float(), weight)

    def updated(self) -> torch.Tensor:
        """Return a float vector over ``keys``: 1 where this process added a value this epoch."""
        flags = [float(self.means[self._name(key)].update_count > 0) for key in self.keys]
        return torch.tensor(flags)

    def compute(self, key: str) -> torch.Tensor:
        """Return the mean of ``key`` over every process; call it on all processes together."""
        return self.means[self._name(key)].compute()

    def reset(self) -> None:
        for mean in self.means.values():
            mean.reset()
