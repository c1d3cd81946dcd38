"""Label columns by task type: how a manifest cell becomes a target tensor.

- ``multiclass``: one class name per cell; the target is its index (long), or -1
  when the cell is empty.
- ``multilabel``: any number of class names, as a JSON list in JSONL or separated
  by ``|`` in CSV (``red|round``). The target is a multi-hot float vector. An empty
  cell means "not annotated" (a vector of -1, left out of loss and metrics), while
  an empty JSON list means "annotated, no class applies" (all zeros).
- ``regression``: a number; the target is a float, or NaN when the cell is empty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch

LabelType = Literal["multiclass", "multilabel", "regression"]
LABEL_TYPES: tuple[str, ...] = ("multiclass", "multilabel", "regression")
MULTILABEL_SEPARATOR = "|"
MISSING_LABEL = -1
"""Target of a multiclass sample without a label (and of each entry of a multilabel
sample without labels); losses and metrics ignore it."""


def parse_label(value: str | list[str] | None, kind: str) -> str | list[str] | float | None:
    """Return the label in ``value`` for a column of type ``kind``; ``None`` if absent.

    Raises
    ------
    ValueError
        With the reason, if the value does not fit the type (a list in a multiclass
        column, a word in a regression column).
    """
    if value is None:
        return None
    if kind == "multiclass":
        if isinstance(value, list):
            raise ValueError(
                f"a list {value!r} in a multiclass column; give one class, or declare the "
                "task as multilabel"
            )
        return value
    if kind == "multilabel":
        if isinstance(value, list):
            return value
        return [part.strip() for part in value.split(MULTILABEL_SEPARATOR) if part.strip()]
    if kind == "regression":
        if isinstance(value, list):
            raise ValueError(f"a list {value!r} in a regression column; give one number")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number, as a regression label must be") from None
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite number")
        return number
    raise ValueError(f"unknown label type {kind!r}; use one of {LABEL_TYPES}")


def label_classes(values: Sequence[str | list[str] | float | None], kind: str) -> list[str]:
    """Return the sorted class names found in parsed labels (none for regression)."""
    if kind == "regression":
        return []
    names: set[str] = set()
    for value in values:
        if value is None:
            continue
        names.update(value if isinstance(value, list) else [value])
    return sorted(names)


def label_target(
    value: str | list[str] | float | None, kind: str, class_index: dict[str, int]
) -> torch.Tensor:
    """Return the target tensor of one parsed label (see the module docstring)."""
    if kind == "multiclass":
        return torch.tensor(MISSING_LABEL if value is None else class_index[value])
    if kind == "multilabel":
        if value is None:
            return torch.full((len(class_index),), float(MISSING_LABEL))
        target = torch.zeros(len(class_index))
        for name in value:
            target[class_index[name]] = 1.0
        return target
    return torch.tensor(float("nan") if value is None else float(value))
