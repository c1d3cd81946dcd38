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

``--step-times N`` measures only the training step time: one short fit of ``N``
steps per combination, without validation. Run it on an otherwise idle machine
after the fits. Its medians replace those of the fits in the table, whose steps
may have shared the CPU with other work; the JSON file keeps both.
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


def combination_flags(kind: str, weighting: str) -> list[str]:
    """Return the mmlearn flags that select one fusion kind and weighting scheme."""
    return [
        "--config",
        CONFIG,
        "--model.fusion.kind",
        kind,
        "--model.loss_weighting.kind",
        weighting,
        "--trainer.enable_progress_bar",
        "false",
    ]


def run_one(kind: str, weighting: str, seed: int, workdir: Path, extra: list[str]) -> dict:
    """Fit and test one combination; return its metrics, sizes and step time."""
    common = [*combination_flags(kind, weighting), "--seed_everything", str(seed), *extra]

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


def time_steps(kind: str, weighting: str, steps: int, workdir: Path) -> float:
    """Return the median training step time, in seconds, of a ``steps``-step fit."""
    flags = [
        *combination_flags(kind, weighting),
        "--trainer.max_steps",
        str(steps),
        "--trainer.limit_val_batches",
        "0",
        "--checkpoint.monitor",
        "null",
        "--early_stopping.monitor",
        "train/loss",
        "--early_stopping.patience",
        "1000",
        "--trainer.callbacks+=benchmark_runs.StepTimer",
    ]
    name = f"steps_{kind}_{weighting}"
    cli, checkpoints = fit_cli(flags, name, workdir)
    shutil.rmtree(checkpoints, ignore_errors=True)
    timer = next(c for c in cli.trainer.callbacks if isinstance(c, StepTimer))
    return timer.median_seconds


def in_table_order(results: dict[str, list[dict]]) -> list[tuple[str, list[dict]]]:
    """Sort ``fusion / weighting`` labels as ``KINDS`` and ``WEIGHTINGS`` list them."""

    def position(label: str) -> tuple[int, int]:
        kind, weighting = label.split(" / ")
        return KINDS.index(kind), WEIGHTINGS.index(weighting)

    return sorted(results.items(), key=lambda item: position(item[0]))


def write_tables(
    results: dict[str, list[dict]],
    out: Path,
    seeds: list[int],
    step_seconds: dict[str, float] | None = None,
) -> str:
    lines = [
        "| fusion | weighting | seeds | category acc | category macro F1 | subcategory acc "
        "| trainable / total parameters | step time (ms) |",
        "|---|---|---|---|---|---|---|---|",
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
        if step_seconds and label in step_seconds:
            step = step_seconds[label] * 1000
        else:
            step = statistics.median(run["step_seconds"] for run in runs) * 1000
        lines.append(
            f"| {kind} | {weighting} | {len(runs)} | {' | '.join(cells)} | {sizes} | {step:.0f} |"
        )
    lines += [
        "",
        "| fusion (static weighting) | seeds | all modalities | without text | without image "
        "| without audio |",
        "|---|---|---|---|---|---|",
    ]
    for label, runs in in_table_order(results):
        kind, weighting = label.split(" / ")
        if weighting != "static":
            continue
        keys = ["test/category/acc", *(f"without {m}" for m in REMOVED)]
        cells = [summarize([run[key] for run in runs]) for key in keys]
        lines.append(f"| {kind} | {len(runs)} | {' | '.join(cells)} |")
    table = "\n".join(lines) + "\n"
    payload = {
        "seeds": seeds,
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "processor": platform.processor() or platform.machine(),
        },
        "results": results,
        "step_seconds": step_seconds or {},
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
    parser.add_argument(
        "--step-times",
        type=int,
        metavar="N",
        help="only time N training steps per combination, keeping the measured runs",
    )
    parser.add_argument("extra", nargs="*", help="mmlearn flags for every run, after --")
    args = parser.parse_args()

    results: dict[str, list[dict]] = {}
    step_seconds: dict[str, float] = {}
    existing = args.out / "tuxpaint_fusion.json"
    if (args.resume or args.step_times) and existing.is_file():
        payload = json.loads(existing.read_text())
        results, step_seconds = payload["results"], payload.get("step_seconds", {})

    def seeds_so_far() -> list[int]:
        return sorted({run["seed"] for runs in results.values() for run in runs})

    if args.step_times:
        for kind in args.kinds:
            for weighting in args.weightings:
                label = f"{kind} / {weighting}"
                step_seconds[label] = time_steps(kind, weighting, args.step_times, args.workdir)
                print(f"{label}: {step_seconds[label] * 1000:.0f} ms per step", flush=True)
        print(write_tables(results, args.out, seeds_so_far(), step_seconds))
        return
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
                write_tables(results, args.out, seeds_so_far(), step_seconds)
    print(write_tables(results, args.out, seeds_so_far(), step_seconds))


if __name__ == "__main__":
    main()
