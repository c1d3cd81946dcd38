"""Fit the fused stamps model on one GPU with bf16 mixed precision; report speed and memory.

Runs ``mmlearn fit`` on ``configs/experiment/tuxpaint_fused.yaml`` with the
``configs/trainer/gpu.yaml`` overlay for a few epochs. Then it prints and writes the
training samples per second (median over the steps after a warm-up), the peak GPU
memory allocated by PyTorch, the final losses (which must be finite) and the GPU's
name. Needs the manifest from ``mmlearn data tuxpaint``.

    python benchmarks/gpu_check.py --epochs 3 --out benchmarks/results

``--accelerator cpu`` runs the same check on the CPU (without memory figures), to try
the script on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
from pathlib import Path

import torch

from benchmark_runs import StepTimer, fit_cli  # beside this script

CONFIG = "configs/experiment/tuxpaint_fused.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--warmup-steps", type=int, default=5)
    parser.add_argument("--accelerator", choices=["gpu", "cpu"], default="gpu")
    parser.add_argument("--workers", type=int, default=8, help="DataLoader workers")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--workdir", type=Path, default=Path("runs/gpu_check"))
    args = parser.parse_args()
    on_gpu = args.accelerator == "gpu"
    if on_gpu and not torch.cuda.is_available():
        sys.exit(
            "gpu_check: no CUDA device is visible; run on a GPU machine or pass --accelerator cpu"
        )

    flags = ["--config", CONFIG]
    if on_gpu:
        flags += ["--config", "configs/trainer/gpu.yaml"]
        torch.cuda.reset_peak_memory_stats()
    else:
        flags += ["--trainer.accelerator", "cpu", "--trainer.precision", "bf16-mixed"]
    flags += [
        "--data.num_workers",
        str(args.workers),
        "--trainer.max_epochs",
        str(args.epochs),
        "--trainer.enable_progress_bar",
        "false",
        "--trainer.callbacks+=benchmark_runs.StepTimer",
    ]
    cli, checkpoints = fit_cli(flags, "fused_bf16", args.workdir)

    timer = next(c for c in cli.trainer.callbacks if isinstance(c, StepTimer))
    steady = timer.seconds[args.warmup_steps :] or timer.seconds
    batch_size = cli.datamodule.hparams["batch_size"]
    metrics = cli.trainer.callback_metrics
    losses = {key: float(metrics[key]) for key in ("train/loss", "val/loss")}
    result = {
        "device": torch.cuda.get_device_name(0) if on_gpu else platform.machine(),
        "precision": str(cli.trainer.precision),
        "epochs": args.epochs,
        "steps": len(timer.seconds),
        "median_step_seconds": statistics.median(steady),
        "samples_per_second": batch_size / statistics.median(steady),
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if on_gpu else None,
        "losses": losses,
        "losses_finite": all(math.isfinite(value) for value in losses.values()),
        "val_category_acc": float(metrics["val/category/acc"]),
        "torch": torch.__version__,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"gpu_check_{args.accelerator}.json"
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"wrote {path}; checkpoints in {checkpoints}")
    if not result["losses_finite"]:
        sys.exit("gpu_check: a loss is not finite under bf16-mixed")


if __name__ == "__main__":
    main()
