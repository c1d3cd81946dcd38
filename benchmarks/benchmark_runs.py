"""Helpers shared by the benchmark scripts: one fit run, and mean ± spread."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

from mmlearn.cli import run_cli


def fit_run(common: Sequence[str], name: str, workdir: Path) -> Path:
    """Run ``mmlearn fit`` with ``common`` flags, logging to ``workdir/name``.

    Returns the folder of its checkpoints, where ``best.ckpt`` is the best by the
    config's monitored key.
    """
    checkpoints = workdir / name / "checkpoints"
    run_cli(
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
    return checkpoints


def summarize(values: Sequence[float]) -> str:
    """Format the mean, with the standard deviation when there is more than one value."""
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"
