"""Helpers shared by the benchmark scripts: fit and test runs, a step timer, mean ± spread."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L

from mmlearn.cli import run_cli


class StepTimer(L.Callback):
    """Record the wall time of every training batch (forward, backward and step).

    Add it with ``--trainer.callbacks+=benchmark_runs.StepTimer``; ``median_seconds``
    gives the median over the run, which skips the slow first steps.
    """

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._start = 0.0

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        self.seconds.append(time.perf_counter() - self._start)

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.seconds)


def fit_run(common: Sequence[str], name: str, workdir: Path) -> Path:
    """Run ``mmlearn fit`` with ``common`` flags, logging to ``workdir/name``.

    Returns the folder of its checkpoints, where ``best.ckpt`` is the best by the
    config's monitored key.
    """
    return fit_cli(common, name, workdir)[1]


def fit_cli(common: Sequence[str], name: str, workdir: Path) -> tuple[Any, Path]:
    """Like ``fit_run``, but also return the finished CLI (its trainer and model)."""
    checkpoints = workdir / name / "checkpoints"
    cli = run_cli(
        [
            "fit",
            *common,
            "--trainer.logger.init_args.save_dir",
            str(workdir),
            "--trainer.logger.init_args.name",
            name,
            "--checkpoint.dirpath",
            str(checkpoints),
        ]
    )
    return cli, checkpoints


def run_test(
    common: Sequence[str], checkpoint: Path, absent: str | None = None
) -> dict[str, float]:
    """Run ``mmlearn test`` on ``checkpoint``, optionally with one modality marked absent.

    Returns every logged test metric as a float.
    """
    flags = ["--trainer.logger", "false", "--ckpt_path", str(checkpoint)]
    flags += ["--data.absent_modalities", f"[{absent}]" if absent else "[]"]
    test = run_cli(["test", *common, *flags])
    return {key: float(value) for key, value in test.trainer.callback_metrics.items()}


def summarize(values: Sequence[float]) -> str:
    """Format the mean, with the standard deviation when there is more than one value."""
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"
