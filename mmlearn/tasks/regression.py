"""Regression: mean squared error, with MAE and RMSE as metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.nn import functional as F
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection

from mmlearn.tasks.base import Task


class RegressionTask(Task):
    """One number per sample. Targets: float (B,), NaN where unlabelled.

    The head predicts one value; the loss is the mean squared error. Logs ``mae`` and
    ``rmse``. Scale targets to about unit range in the manifest if they are large.
    """

    metric_names = ("mae", "rmse")
    head_size = 1

    def prediction(self, outputs: Any) -> torch.Tensor:
        return outputs["logits"][self.name].squeeze(-1)

    def labelled(self, targets: torch.Tensor) -> torch.Tensor:
        return ~torch.isnan(targets)

    def without(self, targets: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        return targets.masked_fill(rows, float("nan"))

    def loss(self, prediction: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        rows = self.labelled(targets)
        if not bool(rows.any()):
            return self.zero(prediction)
        return F.mse_loss(prediction[rows].float(), targets[rows].float())

    def make_metrics(self, prefix: str) -> MetricCollection:
        return MetricCollection(
            {"mae": MeanAbsoluteError(), "rmse": MeanSquaredError(squared=False)},
            prefix=prefix,
        )

    def predict(self, prediction: torch.Tensor, class_names: Sequence[str]) -> list[dict[str, Any]]:
        return [{self.name: round(value, 6)} for value in prediction.float().tolist()]
