"""Cross-modal retrieval recall@k over all pairs seen in an epoch."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat


class RetrievalRecall(Metric):
    """Recall@k of retrieving each sample's partner among all partners of the epoch.

    ``update(first, second)`` takes paired features (N, D) of two modalities, row i of
    one belonging with row i of the other. ``compute`` ranks, for every first-modality
    feature, all second-modality features of the epoch by cosine similarity (and the
    other way round), and returns ``{"r<k>": recall}`` averaged over both directions.
    Features are gathered from every process before ``compute``.

    Memory grows with the number of pairs (an N x N similarity matrix at the end),
    which suits evaluation sets up to tens of thousands of pairs.
    """

    full_state_update = False

    def __init__(self, ks: Sequence[int] = (1, 5, 10)):
        super().__init__()
        self.ks = tuple(ks)
        self.add_state("first", default=[], dist_reduce_fx="cat")
        self.add_state("second", default=[], dist_reduce_fx="cat")

    def update(self, first: torch.Tensor, second: torch.Tensor) -> None:
        self.first.append(F.normalize(first.float(), dim=-1))
        self.second.append(F.normalize(second.float(), dim=-1))

    def compute(self) -> dict[str, torch.Tensor]:
        first, second = dim_zero_cat(self.first), dim_zero_cat(self.second)
        similarity = first @ second.T
        truth = torch.arange(similarity.shape[0], device=similarity.device)
        results = {}
        for k in self.ks:
            recalls = []
            for scores in (similarity, similarity.T):
                top = scores.topk(min(k, scores.shape[1]), dim=1).indices
                recalls.append((top == truth.unsqueeze(1)).any(dim=1).float().mean())
            results[f"r{k}"] = torch.stack(recalls).mean()
        return results
