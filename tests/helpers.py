"""Helpers that write small real media files and manifests for the tests."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import yaml
from PIL import Image

from mmlearn.cli import main

TEXT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
TUXPAINT_ROOT = Path("/usr/share/tuxpaint/stamps")
REPO = Path(__file__).resolve().parents[1]


def run_mmlearn(
    launcher: Sequence[str], args: Sequence[str], cwd: Path, **env: str
) -> subprocess.CompletedProcess:
    """Run ``mmlearn.cli`` with ``args`` in a new process, offline, with the tests importable.

    ``launcher`` comes between the interpreter and ``-m mmlearn.cli``, for example the
    ``torch.distributed.run`` flags.
    """
    command = [sys.executable, *launcher, "-m", "mmlearn.cli", *args]
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", **env}
    environment["PYTHONPATH"] = os.pathsep.join([str(REPO), environment.get("PYTHONPATH", "")])
    return subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=600
    )


def write_png(path: Path, color: tuple[int, ...] = (200, 30, 30, 255), size: int = 40) -> Path:
    """Write a square PNG of one color; four values give an RGBA image."""
    mode = "RGBA" if len(color) == 4 else "RGB"
    Image.new(mode, (size, size), color).save(path)
    return path


def write_tone(
    path: Path, seconds: float = 0.5, rate: int = 22050, channels: int = 1, frequency: float = 440.0
) -> Path:
    """Write a sine tone as 16-bit PCM; the format follows the file extension."""
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.5 * np.sin(2 * math.pi * frequency * t)
    data = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    subtype = "VORBIS" if path.suffix == ".ogg" else "PCM_16"
    soundfile.write(path, data.astype(np.float32), rate, subtype=subtype)
    return path


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


MODEL = {
    "tasks": [{"name": "category"}, {"name": "subcategory", "weight": 0.5}],
    "text_encoder": {"model_name_or_path": TEXT_MODEL, "lr": 1.0e-4},
    "image_encoder": {"name": "resnet18"},
    "audio_encoder": {"kind": "cnn", "channels": [8, 16]},
    "embed_dim": 16,
    "fusion": {"hidden_dim": 32},
}


def write_config(tmp_path: Path, manifest: Path, model: dict | None = None, **overrides) -> Path:
    """Write a fast CPU config; ``section__key=value`` overrides one setting."""
    config = {
        "seed_everything": 0,
        "data": {
            "manifest": str(manifest),
            "labels": ["category", "subcategory"],
            "image_size": 32,
            "batch_size": 4,
            "num_workers": 0,
            "n_mels": 16,
            "max_audio_seconds": 1.0,
        },
        "model": model or MODEL,
        "trainer": {
            "max_epochs": 1,
            "limit_train_batches": 2,
            "limit_val_batches": 2,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "default_root_dir": str(tmp_path / "run"),
            "logger": {
                "class_path": "lightning.pytorch.loggers.CSVLogger",
                "init_args": {"save_dir": str(tmp_path / "run"), "name": "logs"},
            },
        },
        "checkpoint": {
            "dirpath": str(tmp_path / "run" / "checkpoints"),
            "filename": "best",
            "monitor": "val/category/acc",
            "mode": "max",
        },
        "early_stopping": {"monitor": "val/category/acc", "mode": "max"},
    }
    for key, value in overrides.items():
        section, _, name = key.partition("__")
        config[section][name] = value
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def wandb_logger_flags(save_dir: Path) -> list[str]:
    """Return CLI flags that log to W&B project ``mmlearn-test`` under ``save_dir``."""
    return [
        "--trainer.logger",
        "lightning.pytorch.loggers.WandbLogger",
        "--trainer.logger.project",
        "mmlearn-test",
        "--trainer.logger.save_dir",
        str(save_dir),
    ]


def rejected_args(args: Sequence[str], capsys, code: int = 2) -> str:
    """Run ``mmlearn`` in this process with ``args``, expect it to exit with ``code``.

    Returns what it wrote to stderr, so a test can check the message names the fix.
    """
    try:
        main(list(args))
    except SystemExit as stopped:
        assert stopped.code == code, capsys.readouterr().err
    else:
        raise AssertionError(f"mmlearn {' '.join(args)} did not exit")
    return capsys.readouterr().err
