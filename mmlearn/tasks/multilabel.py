"""Multilabel classification: binary cross-entropy per class, per-class F1 and mAP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.nn import functional as F
from torchmetrics import ClasswiseWrapper, MetricCollection
from torchmetrics.classification import MultilabelAveragePrecision, MultilabelF1Score

from mmlearn.data.labels import MISSING_LABEL
from mmlearn.tasks.base import Task


class MultilabelTask(Task):
    """Any number of classes per sample. Targets: float (B, C) multi-hot, -1 where unlabelled.

    Logs ``map`` (mean average precision over classes), ``f1`` (macro F1 at a 0.5
    threshold) and ``f1/<class>`` for each class.
    """

    def __init__(self, name: str, column: str, class_names: Sequence[str], threshold: float = 0.5):
        super().__init__(name, column)
        self.class_names = list(class_names)
        self.head_size = len(self.class_names)
        self.threshold = threshold
        self.metric_names = ("map", "f1", *(f"f1/{label}" for label in self.class_names))

    def labelled(self, targets: torch.Tensor) -> torch.Tensor:
        return (targets != MISSING_LABEL).all(dim=-1)

    def without(self, targets: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return targets.masked_fill(rows.unsqueeze(-1), float(MISSING_LABEL))

    def loss(self, prediction: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        rows = self.labelled(targets)
        if not bool(rows.any()):
            return self.zero(prediction)
        return F.binary_cross_entropy_with_logits(prediction[rows].float(), targets[rows])

    def update_metrics(
        self, metrics: MetricCollection, prediction: torch.Tensor, targets: torch.Tensor
    ) -> None:
        rows = self.labelled(targets)
        metrics.update(prediction[rows].detach().float().sigmoid(), targets[rows].long())

    def make_metrics(self, prefix: str) -> MetricCollection:
        count = len(self.class_names)
        return MetricCollection(
            {
                "map": MultilabelAveragePrecision(count, average="macro"),
                "f1": MultilabelF1Score(count, threshold=self.threshold, average="macro"),
                "f1_per_class": ClasswiseWrapper(
                    MultilabelF1Score(count, threshold=self.threshold, average=None),
                    labels=self.class_names,
                    prefix="f1/",
                ),
            },
            prefix=prefix,
            # Shared states between the two F1 metrics leave the wrapped one with no
            # recorded update after a reset, which makes torchmetrics warn at compute.
            compute_groups=False,
        )

    def predict(self, prediction: torch.Tensor, class_names: Sequence[str]) -> list[dict[str, Any]]:
        """Return the classes above the threshold, and every class's probability."""
        records = []
        for row in prediction.float().sigmoid().tolist():
            scored = list(zip(class_names, row, strict=True))
            records.append(
                {
                    self.name: [name for name, p in scored if p >= self.threshold],
                    f"{self.name}_probabilities": {name: round(p, 6) for name, p in scored},
                }
            )
        return records
