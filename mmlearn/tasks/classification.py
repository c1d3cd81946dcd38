"""Multiclass classification: cross-entropy and accuracy / macro F1, ignoring unlabelled rows."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from mmlearn.data.dataset import MISSING_LABEL


class ClassificationTask(nn.Module):
    """Loss and metrics of one multiclass task; targets equal to -1 are ignored."""

    metric_names = ("acc", "f1")

    def __init__(self, num_classes: int, label_smoothing: float = 0.0):
        super().__init__()
        self.num_classes = num_classes
        self.label_smoothing = label_smoothing

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Return the mean cross-entropy over labelled rows, computed in float32.

        A batch with no labelled row gives 0, still attached to the graph.
        """
        labelled = targets != MISSING_LABEL
        if not bool(labelled.any()):
            return logits.float().sum() * 0.0
        return F.cross_entropy(
            logits[labelled].float(), targets[labelled], label_smoothing=self.label_smoothing
        )

    def make_metrics(self, prefix: str) -> MetricCollection:
        """Return fresh accuracy and macro-F1 metrics whose logged keys start with ``prefix``."""
        return MetricCollection(
            {
                "acc": MulticlassAccuracy(
                    self.num_classes, average="micro", ignore_index=MISSING_LABEL
                ),
                "f1": MulticlassF1Score(
                    self.num_classes, average="macro", ignore_index=MISSING_LABEL
                ),
            },
            prefix=prefix,
        )
