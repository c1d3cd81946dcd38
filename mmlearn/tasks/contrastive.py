"""Contrastive alignment of two modalities with InfoNCE and a learned temperature."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn
from torch import nn
from torch.nn import functional as F
from torchmetrics import MetricCollection

from mmlearn.tasks.base import Task
from mmlearn.tasks.retrieval import RetrievalRecall


def gather_with_grad(features: torch.Tensor) -> torch.Tensor:
    """Concatenate ``features`` (N, D) from every process, keeping gradients.

    Processes may hold different N; each pads to the largest before gathering. With a
    single process the features are returned as they are.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return features
    count = torch.tensor([features.shape[0]], device=features.device)
    counts = [torch.zeros_like(count) for _ in range(dist.get_world_size())]
    dist.all_gather(counts, count)
    largest = int(max(c.item() for c in counts))
    padded = F.pad(features, (0, 0, 0, largest - features.shape[0]))
    gathered = dist_nn.all_gather(padded)
    return torch.cat([part[: int(n.item())] for part, n in zip(gathered, counts, strict=True)])


class ContrastiveTask(Task):
    """Pull paired features of two modalities together and push other pairs apart.

    For the rows that have both modalities, the projected features are L2-normalized
    and scored against every partner in the batch (in training under DDP, gathered from
    all processes, with gradients). The loss is the symmetric InfoNCE loss of CLIP: the
    cross-entropy of finding the true partner, in both directions. The temperature
    starts at ``temperature`` and is learned as a log-scale, capped at 1/100.

    Logs ``r1``, ``r5`` and ``r10``: recall@k of retrieving each partner among all
    pairs of the epoch, averaged over both directions.
    """

    metric_names = ("r1", "r5", "r10")

    def __init__(self, name: str, modalities: tuple[str, str], temperature: float = 0.07):
        super().__init__(name, None)
        if len(modalities) != 2 or modalities[0] == modalities[1]:
            raise ValueError(f"a contrastive task needs two different modalities, got {modalities}")
        self.modalities = tuple(modalities)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature)))

    def prediction(self, outputs: Mapping[str, Any]) -> torch.Tensor:
        """Return the two modalities' features stacked: (B, 2, dim)."""
        first, second = self.modalities
        return torch.stack([outputs["features"][first], outputs["features"][second]], dim=1)

    def targets(self, batch: Mapping[str, Any]) -> torch.Tensor:
        """Bool (B,): whether the sample has both modalities."""
        first, second = self.modalities
        return batch["present"][first] & batch["present"][second]

    def labelled(self, targets: torch.Tensor) -> torch.Tensor:
        return targets

    def without(self, targets: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return targets & ~rows

    def loss(self, prediction: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        pairs = F.normalize(prediction[targets].float(), dim=-1)
        first, second = pairs[:, 0], pairs[:, 1]
        if self.training:
            # Evaluation gives each process a disjoint share that may hold fewer
            # batches than another's, so a collective there could wait forever. Each
            # process scores its own batch; the retrieval metrics cover the whole epoch.
            first, second = gather_with_grad(first), gather_with_grad(second)
        if first.shape[0] < 2:
            # One pair has no negatives to contrast with.
            return self.zero(prediction) + self.log_scale * 0.0
        scale = self.log_scale.clamp(max=math.log(100.0)).exp()
        logits = scale * first @ second.T
        truth = torch.arange(logits.shape[0], device=logits.device)
        return (F.cross_entropy(logits, truth) + F.cross_entropy(logits.T, truth)) / 2

    def update_metrics(
        self, metrics: MetricCollection, prediction: torch.Tensor, targets: torch.Tensor
    ) -> None:
        pairs = prediction[targets].detach()
        metrics.update(pairs[:, 0], pairs[:, 1])

    def make_metrics(self, prefix: str) -> MetricCollection:
        return MetricCollection({"recall": RetrievalRecall((1, 5, 10))}, prefix=prefix)
