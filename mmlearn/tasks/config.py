"""Task declarations as they appear in configs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TaskType = Literal["multiclass", "multilabel", "regression", "contrastive"]


@dataclass
class TaskConfig:
    """One task.

    A ``contrastive`` task reads no label: it aligns the features of the two
    ``modalities`` with InfoNCE.

    Attributes
    ----------
    name:
        Keys the head, the loss and the logged metrics (``val/<name>/acc``).
    label:
        The manifest column a supervised task predicts; ``name`` by default.
    type:
        ``multiclass``, ``multilabel``, ``regression`` or ``contrastive``.
    weight:
        Scales the task's loss in the total.
    modalities:
        With ``contrastive``, the two modalities to align, for example ``[text, image]``.
    temperature:
        With ``contrastive``, the starting softmax temperature, which is learned.
    """

    name: str
    label: str | None = None
    type: TaskType = "multiclass"
    weight: float = 1.0
    modalities: tuple[str, str] | None = None
    temperature: float = 0.07

    @property
    def supervised(self) -> bool:
        """Whether the task predicts a label column (every type but contrastive)."""
        return self.type != "contrastive"

    @property
    def column(self) -> str:
        """The manifest label column that this task predicts."""
        return self.label or self.name
