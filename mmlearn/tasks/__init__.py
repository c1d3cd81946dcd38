"""Tasks: what a head predicts, its loss and its metrics."""

from mmlearn.tasks.classification import ClassificationTask
from mmlearn.tasks.config import TaskConfig

__all__ = ["ClassificationTask", "TaskConfig"]
