"""Record what produced a run: the resolved config, package versions, code and data.

``RunMetadataConfig`` is the CLI's config-saving callback. It writes
``config.yaml`` to the log folder as LightningCLI always does. It also logs the full
resolved config under ``config`` to every logger (W&B, CSV, ...). Beside it, a
``run`` entry gives the package versions, the git commit of the working directory
with a flag for uncommitted changes, and the SHA-256 of each manifest file.
Checkpoints record the W&B run id, so that ``fit --ckpt_path`` continues the same
W&B run.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import subprocess
from pathlib import Path
from typing import Any

import lightning as L
import yaml
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger

from mmlearn.checkpoint_file import read_checkpoint

PACKAGES = (
    "mmlearn-lightning",
    "torch",
    "torchvision",
    "torchaudio",
    "lightning",
    "transformers",
    "torchmetrics",
)


def package_versions() -> dict[str, str]:
    """Return the installed version of each package in ``PACKAGES`` (or "not installed")."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_state(folder: str | Path = ".") -> dict[str, Any]:
    """Return the commit checked out in ``folder`` and whether files differ from it.

    Outside a git repository, or without git, the commit is ``None``.
    """
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain"], cwd=folder, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "uncommitted_changes": None}
    return {"commit": commit, "uncommitted_changes": bool(status.strip())}


def file_sha256(path: str | Path) -> str:
    """Return the SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_hashes(datamodule: Any) -> dict[str, str]:
    """Return the SHA-256 of each manifest file that ``datamodule`` reads."""
    hparams = getattr(datamodule, "hparams", {})
    paths = [hparams.get("manifest"), *(hparams.get("splits") or {}).values()]
    return {str(path): file_sha256(path) for path in paths if path and Path(path).is_file()}


WANDB_RUN_ID_KEY = "wandb_run_id"


def stored_wandb_run_id(checkpoint: str | Path) -> str | None:
    """Return the W&B run id saved in ``checkpoint``, or None if it has none."""
    run_id = read_checkpoint(checkpoint).get(WANDB_RUN_ID_KEY)
    return str(run_id) if run_id else None


def stored_class_names(checkpoint: str | Path) -> dict[str, list[str]]:
    """Return the classes of each label column that the model in ``checkpoint`` predicts."""
    hyperparameters = read_checkpoint(checkpoint).get("hyper_parameters") or {}
    stored = hyperparameters.get("class_names") or {}
    return {column: list(names) for column, names in stored.items()}


class RunMetadataConfig(SaveConfigCallback):
    """Save the config to the log folder, and log it with the run's provenance."""

    def save_config(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
        run = {
            "versions": package_versions(),
            "git": git_state(),
            "manifest_sha256": manifest_hashes(trainer.datamodule),
        }
        for logger in trainer.loggers:
            logger.log_hyperparams({"config": config, "run": run})

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger) and logger.version:
                checkpoint[WANDB_RUN_ID_KEY] = logger.version
