"""Compare every fusion strategy, with static and uncertainty loss weighting, on the stamps.

For each fusion kind, weighting scheme and seed, fits ``configs/experiment/tuxpaint_fused.yaml``
with ``--model.fusion.kind`` and ``--model.loss_weighting.kind`` set, and tests the
best checkpoint. Runs with static weighting are also tested with text, image or audio
marked absent in every test stamp. Records held-out category accuracy and macro F1,
subcategory accuracy, trainable and total parameters, and the median training step
time, then writes ``results/tuxpaint_fusion.{json,md}``.

    python benchmarks/fusion_strategies.py --seeds 0 1 2

``--kinds`` and ``--weightings`` pick a subset; extra ``mmlearn`` flags can follow
``--``, for example ``-- --trainer.max_epochs 2`` for a quick check. ``--resume``
keeps the runs already in the results file and adds only the missing ones, so a
long measurement can be spread over several sessions.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
from pathlib import Path

import torch

from benchmark_runs import StepTimer, fit_cli, run_test, summarize  # beside this script

CONFIG = "configs/experiment/tuxpaint_fused.yaml"
KINDS = ["concat", "mean", "sum", "gated", "attention", "cross_attention", "low_rank", "late"]
WEIGHTINGS = ["static", "uncertainty"]
REMOVED = ["text", "image", "audio"]


def run_one(kind: str, weighting: str, seed: int, workdir: Path, extra: list[str]) -> dict:
    """Fit and test one combination; return its metrics, sizes and step time."""
    common = [
        "--config",
        CONFIG,
        "--model.fusion.kind",
        kind,
        "--model.loss_weighting.kind",
        weighting,
        "--seed_everything",
        str(seed),
        "--trainer.enable_progress_bar",
        "false",
        *extra,
    ]

    name = f"{kind}_{weighting}_seed{seed}"
    cli, checkpoints = fit_cli(
        [*common, "--trainer.callbacks+=benchmark_runs.StepTimer"], name, workdir
    )
    timer = next(c for c in cli.trainer.callbacks if isinstance(c, StepTimer))
    parameters = list(cli.model.parameters())
    result = {
        "trainable_parameters": sum(p.numel() for p in parameters if p.requires_grad),
        "parameters": sum(p.numel() for p in parameters),
        "step_seconds": timer.median_seconds,
    }

    logged = run_test(common, checkpoints / "best.ckpt")
    for key in ("test/category/acc", "test/category/f1", "test/subcategory/acc"):
        result[key] = logged[key]
    if weighting == "static":
        for removed in REMOVED:
            metrics = run_test(common, checkpoints / "best.ckpt", removed)
            result[f"without {removed}"] = metrics["test/category/acc"]
    shutil.rmtree(checkpoints)  # each checkpoint is hundreds of MB
    return result


def in_table_order(results: dict[str, list[dict]]) -> list[tuple[str, list[dict]]]:
    """Sort ``fusion / weighting`` labels as ``KINDS`` and ``WEIGHTINGS`` list them."""

    def position(label: str) -> tuple[int, int]:
        kind, weighting = label.split(" / ")
        return KINDS.index(kind), WEIGHTINGS.index(weighting)

    return sorted(results.items(), key=lambda item: position(item[0]))


def write_tables(results: dict[str, list[dict]], out: Path, seeds: list[int]) -> str:
    lines = [
        "| fusion | weighting | category acc | category macro F1 | subcategory acc "
        "| trainable / total parameters | step time (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, runs in in_table_order(results):
        kind, weighting = label.split(" / ")
        cells = [
            summarize([run[key] for run in runs])
            for key in ("test/category/acc", "test/category/f1", "test/subcategory/acc")
        ]
        sizes = (
            f"{runs[0]['trainable_parameters'] / 1e6:.2f} M / {runs[0]['parameters'] / 1e6:.1f} M"
        )
        step = statistics.median(run["step_seconds"] for run in runs) * 1000
        lines.append(f"| {kind} | {weighting} | {' | '.join(cells)} | {sizes} | {step:.0f} |")
    lines += [
        "",
        "| fusion (static weighting) | all modalities | without text | without image "
        "| without audio |",
        "|---|---|---|---|---|",
    ]
    for label, runs in in_table_order(results):
        kind, weighting = label.split(" / ")
        if weighting != "static":
            continue
        keys = ["test/category/acc", *(f"without {m}" for m in REMOVED)]
        cells = [summarize([run[key] for run in runs]) for key in keys]
        lines.append(f"| {kind} | {' | '.join(cells)} |")
    table = "\n".join(lines) + "\n"
    payload = {
        "seeds": seeds,
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "processor": platform.processor() or platform.machine(),
        },
        "results": results,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "tuxpaint_fusion.json").write_text(json.dumps(payload, indent=2))
    (out / "tuxpaint_fusion.md").write_text(table)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=KINDS)
    parser.add_argument("--weightings", nargs="+", choices=WEIGHTINGS, default=WEIGHTINGS)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--workdir", type=Path, default=Path("runs/fusion"))
    parser.add_argument("--resume", action="store_true", help="keep the runs already measured")
    parser.add_argument("extra", nargs="*", help="mmlearn flags for every run, after --")
    args = parser.parse_args()

    results: dict[str, list[dict]] = {}
    existing = args.out / "tuxpaint_fusion.json"
    if args.resume and existing.is_file():
        results = json.loads(existing.read_text())["results"]
    # Seed by seed, so an interrupted run still leaves complete tables for the first
    # seeds; the result files are rewritten after every run.
    for seed in args.seeds:
        for kind in args.kinds:
            for weighting in args.weightings:
                label = f"{kind} / {weighting}"
                if any(run["seed"] == seed for run in results.get(label, [])):
                    continue
                run = {"seed": seed, **run_one(kind, weighting, seed, args.workdir, args.extra)}
                results.setdefault(label, []).append(run)
                print(f"{label}, seed {seed}: {json.dumps(run)}", flush=True)
                seeds = sorted({r["seed"] for runs in results.values() for r in runs})
                write_tables(results, args.out, seeds)
    print(write_tables(results, args.out, sorted({r["seed"] for v in results.values() for r in v})))


if __name__ == "__main__":
    main()
