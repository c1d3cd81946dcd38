"""Task declarations as they appear in configs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TaskType = Literal["multiclass", "multilabel", "regression", "contrastive"]


@dataclass
class TaskConfig:
    """One task.

    ``name`` keys the head, the loss and the logged metrics (``val/<name>/acc``).
    ``type`` is ``multiclass``, ``multilabel``, ``regression`` or ``contrastive``.
    ``label`` is the manifest column a supervised task predicts and defaults to
    ``name``. ``weight`` scales its loss in the total.

    A ``contrastive`` task reads no label: it aligns the features of the two
    ``modalities`` (for example ``[text, image]``) with InfoNCE, starting from the
    softmax ``temperature``, which is learned.
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
