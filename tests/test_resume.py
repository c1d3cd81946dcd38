"""Killed fits resume from their checkpoints: same results at epoch ends, all samples mid-epoch."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import lightning as L
import pytest
import torch
import wandb
from lightning.pytorch.demos.boring_classes import BoringModel

from mmlearn.callbacks.checkpoint import ExceptionCheckpoint, FlatModelCheckpoint
from mmlearn.cli import run_cli
from tests.helpers import MODEL, run_mmlearn, wandb_logger_flags, write_config

# Image and audio only: fast, and still random in shuffling, crops, flips and dropout.
RESUME_MODEL = {**MODEL, "text_encoder": None}
KILL = "tests.test_resume.KillAt"


class RunKilled(Exception):
    """Raised by ``KillAt`` in place of a real kill."""


class KillAt(L.Callback):
    """Raise ``RunKilled`` at the end of training epoch ``epoch``, or after its batch ``batch``."""

    def __init__(self, epoch: int, batch: int | None = None):
        self.epoch = epoch
        self.batch = batch

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        batch_idx = args[-1]
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            raise RunKilled(f"killed after batch {batch_idx} of epoch {self.epoch}")

    def on_train_epoch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.current_epoch == self.epoch and self.batch is None:
            raise RunKilled(f"killed at the end of epoch {self.epoch}")


class CountValSamples(L.Callback):
    """Record the ids of every validation epoch, sanity check excluded."""

    def __init__(self, out: str):
        self.out = Path(out)
        self.ids: list[str] = []

    def on_validation_epoch_start(self, trainer: L.Trainer, *args: Any) -> None:
        self.ids = []

    def on_validation_batch_end(
        self, trainer: L.Trainer, module: L.LightningModule, outputs: Any, batch: Any, *args: Any
    ) -> None:
        self.ids += batch["ids"]

    def on_validation_epoch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.sanity_checking:
            return
        with self.out.open("a", encoding="utf-8") as file:
            file.write(json.dumps({"epoch": trainer.current_epoch, "ids": self.ids}) + "\n")


class TerminateAt(L.Callback):
    """Send this process SIGTERM after training batch ``batch`` of epoch 0."""

    def __init__(self, batch: int):
        self.batch = batch

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.current_epoch == 0 and args[-1] == self.batch:
            os.kill(os.getpid(), signal.SIGTERM)


def kill_callback(epoch: int, batch: int | None = None) -> str:
    return "--trainer.callbacks+=" + json.dumps(
        {"class_path": KILL, "init_args": {"epoch": epoch, "batch": batch}}
    )


def make_config(folder: Path, manifest: Path) -> Path:
    folder.mkdir()
    return write_config(
        folder, manifest, model=RESUME_MODEL, trainer__max_epochs=3, trainer__log_every_n_steps=1
    )


def test_resume_after_kill_at_epoch_end_matches(tmp_path: Path, make_manifest):
    manifest = make_manifest(per_split=8)
    straight = run_cli(["fit", "--config", str(make_config(tmp_path / "straight", manifest))])

    config = make_config(tmp_path / "killed", manifest)
    with pytest.raises(RunKilled):
        run_cli(["fit", "--config", str(config), kill_callback(epoch=1)])
    checkpoints = tmp_path / "killed" / "run" / "checkpoints"
    assert (checkpoints / "last.ckpt").is_file()
    assert (checkpoints / "on_exception.ckpt").is_file()

    resumed = run_cli(["fit", "--config", str(config), "--ckpt_path", "last"])
    # "last" is the newer file: the one written as the exception went up.
    assert resumed.trainer.ckpt_path == str(checkpoints / "on_exception.ckpt")
    assert resumed.trainer.current_epoch == straight.trainer.current_epoch == 3
    assert resumed.trainer.global_step == straight.trainer.global_step == 6
    # A finished fit removes its on-exception checkpoint.
    assert not (checkpoints / "on_exception.ckpt").exists()
    expected = straight.model.state_dict()
    for name, value in resumed.model.state_dict().items():
        torch.testing.assert_close(value, expected[name], msg=f"parameter {name} differs")
    keys = ["val/loss", "val/category/acc", "val/category/f1", "val/subcategory/acc"]
    for key in keys:
        got = float(resumed.trainer.callback_metrics[key])
        want = float(straight.trainer.callback_metrics[key])
        assert got == pytest.approx(want, abs=1e-6), key


def test_resume_mid_epoch_counts_all_val_samples(tmp_path: Path, make_manifest):
    manifest = make_manifest(per_split=10)  # 3 training batches per epoch
    config = make_config(tmp_path / "killed", manifest)
    seen = tmp_path / "val_ids.jsonl"
    counter = "--trainer.callbacks+=" + json.dumps(
        {"class_path": "tests.test_resume.CountValSamples", "init_args": {"out": str(seen)}}
    )
    flags = ["--trainer.limit_train_batches", "null", "--trainer.limit_val_batches", "null"]
    with pytest.raises(RunKilled):
        run_cli(["fit", "--config", str(config), *flags, counter, kill_callback(epoch=1, batch=0)])
    checkpoints = tmp_path / "killed" / "run" / "checkpoints"
    assert torch.load(checkpoints / "on_exception.ckpt", weights_only=True)["global_step"] == 4

    resumed = run_cli(["fit", "--config", str(config), *flags, counter, "--ckpt_path", "last"])
    assert resumed.trainer.current_epoch == 3
    # The killed epoch trains its remaining batches only.
    assert resumed.trainer.global_step == 9
    epochs = [json.loads(line) for line in seen.read_text().splitlines()]
    assert [record["epoch"] for record in epochs] == [0, 1, 2]
    expected = sorted(f"val-{index}" for index in range(10))
    for record in epochs:
        assert sorted(record["ids"]) == expected, record["epoch"]


def test_best_k_checkpoints_stay_in_one_folder(tmp_path: Path, make_manifest):
    config = make_config(tmp_path / "run_k", make_manifest(per_split=8))
    fit = run_cli(
        [
            "fit",
            "--config",
            str(config),
            "--checkpoint.save_top_k",
            "2",
            "--checkpoint.filename",
            "{epoch:02d}-{val/category/acc:.3f}",
        ]
    )
    folder = tmp_path / "run_k" / "run" / "checkpoints"
    files = sorted(path.name for path in folder.iterdir())
    assert [path for path in folder.rglob("*") if path.is_dir()] == []
    assert "last.ckpt" in files
    best = [name for name in files if name != "last.ckpt"]
    assert len(best) == 2
    for name in best:
        assert name.startswith("epoch="), name
        assert "-val_category_acc=" in name, name
    assert Path(fit.trainer.checkpoint_callback.best_model_path).parent == folder

    # Without --ckpt_path, a second fit in the same folder starts afresh.
    again = run_cli(["fit", "--config", str(config)])
    assert again.trainer.ckpt_path is None


def test_resumed_fit_continues_the_wandb_run(tmp_path: Path, make_manifest, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    config = make_config(tmp_path / "tracked", make_manifest(per_split=8))
    logger = wandb_logger_flags(tmp_path / "wandb_runs")
    with pytest.raises(RunKilled):
        run_cli(["fit", "--config", str(config), *logger, kill_callback(epoch=1)])
    killed_id = wandb.run.id
    wandb.finish()  # a killed process would not keep its run open

    resumed = run_cli(["fit", "--config", str(config), *logger, "--ckpt_path", "last"])
    try:
        assert resumed.trainer.logger.experiment.id == killed_id
        assert resumed.trainer.current_epoch == 3
    finally:
        wandb.finish()


class WorseEachEpoch(BoringModel):
    """Log a validation score that is best at epoch 0 and worse at every later epoch."""

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("score", -float(self.current_epoch))


@pytest.mark.parametrize("on_train_epoch_end", [False, True])
def test_last_checkpoint_follows_the_last_epoch(tmp_path: Path, on_train_epoch_end: bool):
    checkpoint = FlatModelCheckpoint(
        dirpath=tmp_path,
        monitor="score",
        mode="max",
        save_last=True,
        save_on_train_epoch_end=on_train_epoch_end,
    )
    trainer = L.Trainer(
        max_epochs=3,
        limit_train_batches=2,
        limit_val_batches=1,
        callbacks=[checkpoint],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(WorseEachEpoch())

    last = torch.load(tmp_path / "last.ckpt", weights_only=False)
    best = torch.load(checkpoint.best_model_path, weights_only=False)
    assert last["epoch"] == 2
    assert last["global_step"] == 6
    assert best["epoch"] == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["epoch=0-step=2.ckpt", "last.ckpt"]


def test_fast_dev_run_leaves_the_checkpoints_alone(tmp_path: Path):
    # A smoke test pointed at a real run's folder, as the debug overlay is.
    (tmp_path / "last.ckpt").write_bytes(b"real run")
    (tmp_path / ExceptionCheckpoint.FILENAME).write_bytes(b"real run")
    checkpoint = FlatModelCheckpoint(dirpath=tmp_path, monitor="score", mode="max", save_last=True)
    trainer = L.Trainer(
        fast_dev_run=2,
        callbacks=[checkpoint, ExceptionCheckpoint()],
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(WorseEachEpoch())

    assert trainer.global_step == 2
    assert (tmp_path / "last.ckpt").read_bytes() == b"real run"
    assert (tmp_path / ExceptionCheckpoint.FILENAME).read_bytes() == b"real run"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["last.ckpt", "on_exception.ckpt"]


def test_sigterm_exits_nonzero_after_saving(tmp_path: Path, make_manifest):
    config = make_config(tmp_path / "run", make_manifest(per_split=8))
    terminate = {"class_path": "tests.test_resume.TerminateAt", "init_args": {"batch": 0}}
    fit = ["fit", "--config", str(config), "--trainer.callbacks+=" + json.dumps(terminate)]
    result = run_mmlearn([], fit, tmp_path)

    assert result.returncode == 128 + signal.SIGTERM, result.stderr[-2000:]
    assert "mmlearn: stopped by SIGTERM" in result.stderr
    checkpoints = tmp_path / "run" / "run" / "checkpoints"
    stopped = torch.load(checkpoints / "on_exception.ckpt", weights_only=False)
    assert stopped["global_step"] == 1
