"""The interface that every task implements for the training module."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torchmetrics import MetricCollection


class Task(nn.Module):
    """A task's loss, metrics and predictions, apart from the model that feeds it.

    The training module calls, per batch: ``prediction`` (what the task reads from
    the model outputs), ``targets`` (what it reads from the batch), ``labelled``
    (which rows count), ``loss`` and ``update_metrics``. Subclasses set
    ``metric_names`` and ``head_size``, the output width of the head the task needs
    on the fused vector (``None`` for none).
    """

    metric_names: tuple[str, ...] = ()
    head_size: int | None = None

    def __init__(self, name: str, column: str | None):
        super().__init__()
        self.name = name
        self.column = column

    def prediction(self, outputs: Mapping[str, Any]) -> Any:
        """Return the model output that the task scores: by default its head's output."""
        return outputs["logits"][self.name]

    def targets(self, batch: Mapping[str, Any]) -> torch.Tensor:
        """Return the batch's targets for this task: by default its label column."""
        return batch["targets"][self.column]

    def labelled(self, targets: torch.Tensor) -> torch.Tensor:
        """Bool (B,): the rows that have a target."""
        raise NotImplementedError

    def without(self, targets: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Return ``targets`` with the ``rows`` (bool (B,)) marked as unlabelled."""
        raise NotImplementedError

    def loss(self, prediction: Any, targets: torch.Tensor) -> torch.Tensor:
        """Return the mean loss over labelled rows in float32; 0, still in the graph, if none."""
        raise NotImplementedError

    def update_metrics(
        self, metrics: MetricCollection, prediction: Any, targets: torch.Tensor
    ) -> None:
        """Add the labelled rows of a batch to the stage's metrics."""
        rows = self.labelled(targets)
        metrics.update(prediction[rows].detach().float(), targets[rows])

    def make_metrics(self, prefix: str) -> MetricCollection:
        """Fresh metrics whose logged keys start with ``prefix``."""
        raise NotImplementedError

    def predict(self, prediction: Any, class_names: Sequence[str]) -> list[dict[str, Any]]:
        """Return one record per sample with what the task predicts, keyed by the task name."""
        return [{} for _ in range(len(prediction))]

    @staticmethod
    def zero(prediction: torch.Tensor) -> torch.Tensor:
        """Return a float32 zero that keeps ``prediction``'s parameters in the graph."""
        return prediction.float().sum() * 0.0
