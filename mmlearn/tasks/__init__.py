"""Tasks: what a head predicts (or which modalities are aligned), its loss and its metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mmlearn.tasks.base import Task
from mmlearn.tasks.classification import ClassificationTask
from mmlearn.tasks.config import TaskConfig
from mmlearn.tasks.contrastive import ContrastiveTask
from mmlearn.tasks.multilabel import MultilabelTask
from mmlearn.tasks.regression import RegressionTask


def build_task(config: TaskConfig, class_names: Mapping[str, Sequence[str]]) -> Task:
    """Build the task that ``config.type`` names; ``class_names`` gives the data's classes."""
    if config.type == "contrastive":
        if config.modalities is None:
            raise ValueError(
                f"contrastive task {config.name!r} needs modalities, for example [text, image]"
            )
        return ContrastiveTask(config.name, tuple(config.modalities), config.temperature)
    names = class_names[config.column]
    if config.type == "multiclass":
        return ClassificationTask(config.name, config.column, len(names))
    if config.type == "multilabel":
        return MultilabelTask(config.name, config.column, names)
    if config.type == "regression":
        return RegressionTask(config.name, config.column)
    raise ValueError(
        f"invalid type {config.type!r} of task {config.name!r}; "
        "use multiclass, multilabel, regression or contrastive"
    )


__all__ = [
    "ClassificationTask",
    "ContrastiveTask",
    "MultilabelTask",
    "RegressionTask",
    "Task",
    "TaskConfig",
    "build_task",
]
