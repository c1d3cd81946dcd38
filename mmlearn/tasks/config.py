"""Task declarations as they appear in configs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class TaskConfig:
    """One supervised task.

    ``name`` keys the head, the loss and the logged metrics (``val/<name>/acc``).
    ``label`` is the manifest column it predicts and defaults to ``name``. ``weight``
    scales its loss in the total.
    """

    name: str
    label: str | None = None
    type: Literal["multiclass"] = "multiclass"
    weight: float = 1.0

    @property
    def column(self) -> str:
        """The manifest label column that this task predicts."""
        return self.label or self.name
