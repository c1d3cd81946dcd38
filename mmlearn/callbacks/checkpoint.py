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
    """Lightning's ``ModelCheckpoint`` with flat file names and ``last.ckpt`` at every save point.

    mmlearn logs keys such as ``val/category/acc``, and Lightning writes the template
    ``{epoch}-{val/category/acc:.3f}`` as ``epoch=3-val/category/acc=0.750.ckpt``, a
    file two folders down. Here it becomes ``epoch=3-val_category_acc=0.750.ckpt`` in
    ``dirpath``, beside ``last.ckpt``, so that ``save_top_k`` files sit together.

    In Lightning 2.6.6, ``save_last=True`` writes ``last.ckpt`` only when a top-k
    checkpoint is written at the same step, so ``last.ckpt`` stays at the best epoch
    and a resume repeats every epoch after it. Here ``save_last=True`` writes it after
    every validation (or every training epoch, with ``save_on_train_epoch_end``).
    ``save_last="link"`` keeps Lightning's behaviour.

    A ``fast_dev_run`` writes nothing. Lightning 2.6.6 still wrote ``last.ckpt`` at the
    end of one, over the real run's file in the same folder.
    """

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.fast_dev_run:
            super().on_train_end(trainer, pl_module)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pending = self._last_pending(trainer, at_train_epoch_end=True)
        super().on_train_epoch_end(trainer, pl_module)
        self._save_last_if_missed(trainer, pending)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pending = self._last_pending(trainer, at_train_epoch_end=False)
        super().on_validation_end(trainer, pl_module)
        self._save_last_if_missed(trainer, pending)

    def _last_pending(self, trainer: L.Trainer, at_train_epoch_end: bool) -> bool:
        # Checked before Lightning's hook runs, because a save in that hook marks the
        # step as saved and makes _should_skip_saving_checkpoint true.
        return (
            self.save_last is True
            and self._should_save_on_train_epoch_end(trainer) == at_train_epoch_end
            and not self._should_skip_saving_checkpoint(trainer)
        )

    def _save_last_if_missed(self, trainer: L.Trainer, pending: bool) -> None:
        if pending and self._last_global_step_saved != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

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
    step (a wrong config, say) write nothing, and so does a ``fast_dev_run``, which
    also leaves an existing file in place. ``dirpath`` null means the folder of
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
        if trainer.state.fn != "fit" or trainer.global_step == 0 or trainer.fast_dev_run:
            return
        everywhere = isinstance(exception, (KeyboardInterrupt, SIGTERMException))
        path = self._path(trainer)
        if path is None or (trainer.world_size > 1 and not everywhere):
            return
        trainer.save_checkpoint(path)
        if everywhere:
            rank_zero_info(f"Saved {path}; resume with --ckpt_path last")
        else:
            rank_zero_info(f"Saved {path}; fix the error, then resume with --ckpt_path last")

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # A smoke test sharing the folder must not delete a real run's resume point.
        if trainer.fast_dev_run:
            return
        path = self._path(trainer)
        if stage == "fit" and path is not None and path.exists():
            trainer.strategy.remove_checkpoint(path)
