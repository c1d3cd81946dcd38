"""Multiclass classification: cross-entropy and accuracy / macro F1, ignoring unlabelled rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.nn import functional as F
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from mmlearn.data.labels import MISSING_LABEL
from mmlearn.tasks.base import Task


class ClassificationTask(Task):
    """One class per sample. Targets: long (B,), -1 where unlabelled.

    Logs ``acc`` (micro accuracy) and ``f1`` (macro F1 over the classes).
    """

    metric_names = ("acc", "f1")

    def __init__(self, name: str, column: str, num_classes: int, label_smoothing: float = 0.0):
        super().__init__(name, column)
        self.num_classes = num_classes
        self.head_size = num_classes
        self.label_smoothing = label_smoothing

    def labelled(self, targets: torch.Tensor) -> torch.Tensor:
        return targets != MISSING_LABEL

    def without(self, targets: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return targets.masked_fill(rows, MISSING_LABEL)

    def loss(self, prediction: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        rows = self.labelled(targets)
        if not bool(rows.any()):
            return self.zero(prediction)
        return F.cross_entropy(
            prediction[rows].float(), targets[rows], label_smoothing=self.label_smoothing
        )

    def make_metrics(self, prefix: str) -> MetricCollection:
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

    def predict(self, prediction: torch.Tensor, class_names: Sequence[str]) -> list[dict[str, Any]]:
        """Return the class with the highest probability, and that probability."""
        probabilities = prediction.float().softmax(dim=-1)
        confidence, index = probabilities.max(dim=-1)
        return [
            {self.name: class_names[i], f"{self.name}_probability": round(p, 6)}
            for i, p in zip(index.tolist(), confidence.tolist(), strict=True)
        ]
