"""Checkpoint callbacks: one flat folder for the best K, and a checkpoint when a fit is killed."""

from __future__ import annotations

import os
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException
from lightning.pytorch.utilities.rank_zero import rank_zero_info
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


class ExceptionCheckpoint(Callback):
    """Save ``on_exception.ckpt`` when a fit that has trained stops on an error, Ctrl-C or SIGTERM.

    The CLI resolves ``fit --ckpt_path last`` to the newer of this file and
    ``last.ckpt``, so a run killed in the middle of an epoch loses no finished step.
    The file is deleted when a fit ends normally. Errors before the first optimizer
    step (a wrong config, say) write nothing. ``dirpath`` null means the folder of
    the run's ``ModelCheckpoint``.

    Unlike Lightning's ``OnExceptionCheckpoint``, this callback does not make every
    ``fit`` without ``--ckpt_path`` resume from the last checkpoint. Under DDP it
    saves only on Ctrl-C and SIGTERM, which reach every process: saving is a
    collective step, and after an error on one process the others cannot join it.

    Args:
        dirpath: The folder for ``on_exception.ckpt``; the CLI links it to
            ``checkpoint.dirpath``.
    """

    FILENAME = "on_exception.ckpt"

    def __init__(self, dirpath: str | None = None) -> None:
        self.dirpath = dirpath

    def _path(self, trainer: L.Trainer) -> Path | None:
        folder = self.dirpath
        if folder is None and trainer.checkpoint_callback is not None:
            folder = trainer.checkpoint_callback.dirpath
        return Path(folder) / self.FILENAME if folder else None

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        if trainer.state.fn != "fit" or trainer.global_step == 0:
            return
        everywhere = isinstance(exception, (KeyboardInterrupt, SIGTERMException))
        path = self._path(trainer)
        if path is None or (trainer.world_size > 1 and not everywhere):
            return
        trainer.save_checkpoint(path)
        rank_zero_info(f"Saved {path}; resume with --ckpt_path last")

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        path = self._path(trainer)
        if stage == "fit" and path is not None and path.exists():
            trainer.strategy.remove_checkpoint(path)
