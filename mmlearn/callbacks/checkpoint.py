"""Checkpoint callbacks: one flat folder for the best K, and a checkpoint when a fit is killed."""

from __future__ import annotations

import os
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint, OnExceptionCheckpoint
from torch import Tensor


class FlatModelCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` with a "/" in a formatted file name replaced by "_".

    mmlearn logs keys such as ``val/category/acc``, and Lightning writes the template
    ``{epoch}-{val/category/acc:.3f}`` as ``epoch=3-val/category/acc=0.750.ckpt``, a
    file two folders down. Here it becomes ``epoch=3-val_category_acc=0.750.ckpt`` in
    ``dirpath``, beside ``last.ckpt``, so that ``save_top_k`` files sit together.
    """

    def format_checkpoint_name(
        self,
        metrics: dict[str, Tensor],
        filename: str | None = None,
        ver: int | None = None,
        prefix: str | None = None,
    ) -> str:
        path = super().format_checkpoint_name(metrics, filename, ver, prefix)
        if not self.dirpath:
            return path.replace("/", "_")
        folder = os.path.join(self.dirpath, "")
        return folder + path[len(folder) :].replace("/", "_")


class ExceptionCheckpoint(OnExceptionCheckpoint):
    """Save ``on_exception.ckpt`` when a fit that has trained stops on an error, Ctrl-C or SIGTERM.

    ``fit --ckpt_path last`` resumes from the newer of this file and ``last.ckpt``, so
    a run killed in the middle of an epoch loses no finished step. Lightning deletes
    the file when a fit ends normally. Errors before the first optimizer step (a
    wrong config, say) write nothing. ``dirpath`` null means the folder of the run's
    ``ModelCheckpoint``.
    """

    def __init__(self, dirpath: str | None = None, filename: str = "on_exception") -> None:
        super().__init__(dirpath or ".", filename)
        self.dirpath = dirpath

    @property
    def ckpt_path(self) -> str | None:  # type: ignore[override]
        # Lightning looks for ``ckpt_path: last`` candidates before any folder is known.
        return super().ckpt_path if self.dirpath else None

    def on_exception(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        if trainer.state.fn != "fit" or trainer.global_step == 0:
            return
        if self.dirpath is None and trainer.checkpoint_callback is not None:
            self.dirpath = trainer.checkpoint_callback.dirpath
        if self.dirpath is not None:
            super().on_exception(trainer, *args, **kwargs)

    def teardown(self, trainer: L.Trainer, *args: Any, **kwargs: Any) -> None:
        if self.dirpath is not None:
            super().teardown(trainer, *args, **kwargs)
