"""DDP on two CPU processes (gloo): metrics as in one process, absent inputs, rank-zero output.

The fits run through ``torchrun`` and ``mmlearn.cli``, as users launch them; the
contrastive gather runs in two processes that ``torch.multiprocessing`` starts.
"""

from __future__ import annotations

import csv
import json
import socket
import subprocess
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mmlearn.cli import main, run_cli
from mmlearn.tasks.contrastive import ContrastiveTask
from tests.helpers import MODEL, run_mmlearn, write_config, write_jsonl

# Image and audio only, so that each process starts fast.
DDP_MODEL = {
    **MODEL,
    "text_encoder": None,
    "tasks": [{"name": "category"}, {"name": "subcategory", "weight": 0.0}],
}


def torchrun(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """Run ``mmlearn`` in two CPU processes under ``torchrun``; return the finished process."""
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    devices = ["--trainer.accelerator", "cpu", "--trainer.devices", "2"]
    return run_mmlearn(launcher, [*args, *devices], cwd, OMP_NUM_THREADS="1", **env)


def logged_metrics(folder: Path) -> dict[str, float]:
    """Return the last logged value of every column in the CSV logger's metrics.csv."""
    (path,) = folder.rglob("metrics.csv")
    values: dict[str, float] = {}
    with path.open(encoding="utf-8") as file:
        for row in csv.DictReader(file):
            values.update({key: float(value) for key, value in row.items() if value != ""})
    return values


def sample(index: int, split: str, audio: bool = True, subcategory: str | None = None) -> dict:
    warm = index % 3 != 0
    if subcategory is None:
        subcategory = "ab"[index % 2]
    sound = None
    if audio:
        sound = "media/low.wav" if warm else "media/high.wav"
    return {
        "id": f"{split}-{index}",
        "image": "media/red.png" if warm else "media/blue.png",
        "audio": sound,
        "category": "warm" if warm else "cold",
        "subcategory": subcategory,
        "split": split,
    }


def train_rows(seed: int = 0, count: int = 8) -> list[dict]:
    """Training rows where every sample that rank 1 draws in epoch 0 lacks audio.

    Lightning's distributed sampler shuffles with ``torch.randperm`` seeded by the
    global seed plus the epoch, and gives rank ``r`` every second index from ``r``.
    """
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).tolist()
    rank_one = set(order[1::2])
    return [sample(index, "train", audio=index not in rank_one) for index in range(count)]


def test_validation_metrics_match_one_process(tmp_path: Path, media_dir: Path):
    # 7 samples over 2 processes: rank 0 takes 0, 2, 4, 6 and rank 1 takes 1, 3, 5.
    # Lightning's default sampler would give rank 1 sample 0 a second time. Rank 1
    # has no subcategory label at all, yet must take part in syncing that metric.
    val = [sample(i, "val", subcategory="" if i % 2 else "ab"[i % 4 // 2]) for i in range(7)]
    manifest = write_jsonl(tmp_path / "manifest.jsonl", [*train_rows(), *val])
    config = write_config(tmp_path, manifest, model=DDP_MODEL, trainer__limit_val_batches=None)

    single = run_cli(["validate", "--config", str(config)]).trainer.callback_metrics
    ran = torchrun(
        ["validate", "--config", str(config), "--trainer.logger.init_args.save_dir", "ddp"],
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    both = logged_metrics(tmp_path / "ddp")
    keys = ["val/loss", "val/category/loss", "val/category/acc", "val/category/f1"]
    keys += ["val/subcategory/loss", "val/subcategory/acc"]
    for key in keys:
        assert both[key] == pytest.approx(float(single[key]), abs=1e-5), key


def test_fit_with_audio_absent_on_one_rank(tmp_path: Path, media_dir: Path):
    # One process: W&B offline (no API key), a zero-weight task, a skipped invalid row.
    broken = {**sample(99, "val"), "id": "broken", "image": "media/gone.png"}
    val = [sample(i, "val") for i in range(4)]
    manifest = write_jsonl(tmp_path / "manifest.jsonl", [*train_rows(), *val, broken])
    config = write_config(tmp_path, manifest, model=DDP_MODEL)
    wandb = {
        "class_path": "lightning.pytorch.loggers.WandbLogger",
        "init_args": {"project": "mmlearn-test", "save_dir": str(tmp_path / "tracked")},
    }
    env = {"HOME": str(tmp_path), "WANDB_DIR": str(tmp_path), "WANDB_API_KEY": ""}
    env.update({"WANDB_MODE": "", "WANDB_SILENT": "true"})

    ran = torchrun(
        [
            "fit",
            "--config",
            str(config),
            "--trainer.strategy",
            "ddp_find_unused_parameters_true",
            "--trainer.logger",
            json.dumps(wandb),
            "--data.on_error",
            "skip",
            "--data.skipped_report",
            str(tmp_path / "skipped.jsonl"),
        ],
        cwd=tmp_path,
        **env,
    )
    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output[-3000:]

    # Console lines and files come from rank zero only.
    assert output.count("W&B: no API key") == 1, output[-3000:]
    assert output.count("Skipping 1 invalid row(s)") == 1
    assert output.count("Manifest ") == 1
    assert len(list((tmp_path / "tracked" / "wandb").glob("offline-run-*"))) == 1
    skipped = [json.loads(line) for line in (tmp_path / "skipped.jsonl").read_text().splitlines()]
    assert [record["id"] for record in skipped] == ["broken"]
    assert sorted(path.name for path in tmp_path.glob("skipped*")) == ["skipped.jsonl"]
    assert (tmp_path / "run" / "checkpoints" / "best.ckpt").is_file()


def test_plain_ddp_names_the_module_without_gradient(tmp_path: Path, media_dir: Path):
    val = [sample(i, "val") for i in range(4)]
    manifest = write_jsonl(tmp_path / "manifest.jsonl", [*train_rows(), *val])
    config = write_config(tmp_path, manifest, model=DDP_MODEL)
    ran = torchrun(["fit", "--config", str(config), "--trainer.strategy", "ddp"], cwd=tmp_path)
    assert ran.returncode != 0
    assert "got no gradient in training step 0 on rank 1" in ran.stderr, ran.stderr[-3000:]
    assert "model.encoders.audio" in ran.stderr
    assert "model.encoders.image" not in ran.stderr
    assert "ddp_find_unused_parameters_true" in ran.stderr


def test_batch_lost_on_one_rank_skips_the_step(tmp_path: Path, media_dir: Path):
    # Rank 1's only batch fails to decode, so rank 1 has nothing to train on.
    (media_dir / "broken.wav").write_bytes(b"not a sound file")
    rows = train_rows()
    for row in rows:
        row["audio"] = row["audio"] or "media/broken.wav"
    val = [sample(i, "val") for i in range(4)]
    manifest = write_jsonl(tmp_path / "manifest.jsonl", [*rows, *val])
    config = write_config(tmp_path, manifest, model=DDP_MODEL)

    # The default report folder is the log folder, which only a collective call finds.
    ran = torchrun(["fit", "--config", str(config), "--data.on_error", "skip"], cwd=tmp_path)
    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output[-3000:]
    assert "Skipping training step 0 (epoch 0, batch 0) on every process" in output
    log_dir = tmp_path / "run" / "logs" / "version_0"
    lines = (log_dir / "skipped_samples.rank1.jsonl").read_text().splitlines()
    assert len(lines) == 4
    assert not (log_dir / "skipped_samples.rank0.jsonl").exists()


def test_main_closes_the_process_group_after_a_fit(
    tmp_path: Path, media_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    # A gloo group still open at interpreter exit can abort a finished fit (SIGABRT).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(port))
    val = [sample(i, "val") for i in range(4)]
    manifest = write_jsonl(tmp_path / "manifest.jsonl", [*train_rows(), *val])
    config = write_config(tmp_path, manifest, model=DDP_MODEL)
    ddp = ["--trainer.strategy", "ddp", "--trainer.accelerator", "cpu", "--trainer.devices", "1"]
    try:
        main(["fit", "--config", str(config), *ddp])
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()


ROWS = (3, 2)  # pairs on rank 0 and rank 1: the ranks may hold different batch sizes


def all_pairs() -> torch.Tensor:
    return torch.randn(sum(ROWS), 2, 8, generator=torch.Generator().manual_seed(0))


def contrastive_worker(rank: int, init_file: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        start = sum(ROWS[:rank])
        pairs = all_pairs()[start : start + ROWS[rank]].requires_grad_()
        task = ContrastiveTask("pair", ("image", "audio")).train()
        loss = task.loss(pairs, torch.ones(ROWS[rank], dtype=torch.bool))
        loss.backward()
        torch.save({"loss": loss.detach(), "grad": pairs.grad}, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_contrastive_features_gathered_with_gradients(tmp_path: Path):
    mp.start_processes(
        contrastive_worker,
        args=(str(tmp_path / "init"), str(tmp_path)),
        nprocs=2,
        start_method="spawn",
    )
    pairs = all_pairs().requires_grad_()
    task = ContrastiveTask("pair", ("image", "audio")).train()
    loss = task.loss(pairs, torch.ones(len(pairs), dtype=torch.bool))
    loss.backward()

    start = 0
    for rank, rows in enumerate(ROWS):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        # Every process scores all 5 pairs, so each computes the one-process loss.
        torch.testing.assert_close(result["loss"], loss.detach())
        # Each process's gradient sums the contributions of both losses; DDP's
        # average over the 2 processes then gives the one-process gradient.
        expected = 2 * pairs.grad[start : start + rows]
        torch.testing.assert_close(result["grad"], expected, atol=1e-6, rtol=1e-5)
        start += rows
