"""Train and test the fused model and each single-modality model on the Tux Paint stamps.

Runs ``mmlearn fit`` then ``mmlearn test`` (on the best checkpoint by validation
category accuracy) for every experiment config and seed, and writes the held-out
metrics and wall times as JSON and as a Markdown table.

    python benchmarks/compare_modalities.py --seeds 0 1 2 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import time
from pathlib import Path

import torch

from benchmark_runs import fit_run, run_test, summarize  # beside this script

EXPERIMENTS = {
    "fused (text + image + audio)": "configs/experiment/tuxpaint_fused.yaml",
    "text only": "configs/experiment/tuxpaint_text.yaml",
    "image only": "configs/experiment/tuxpaint_image.yaml",
    "audio only": "configs/experiment/tuxpaint_audio.yaml",
}
METRICS = ("test/category/acc", "test/category/f1", "test/subcategory/acc")


def run_one(config: str, seed: int, workdir: Path, extra: list[str]) -> dict[str, float]:
    """Fit and test one config with one seed; return its test metrics and wall time."""
    name = f"{Path(config).stem}_seed{seed}"
    common = [
        "--config",
        config,
        "--seed_everything",
        str(seed),
        "--trainer.enable_progress_bar",
        "false",
        *extra,
    ]

    start = time.perf_counter()
    checkpoints = fit_run(common, name, workdir)
    fit_seconds = time.perf_counter() - start
    logged = run_test(common, checkpoints / "best.ckpt")
    total_seconds = time.perf_counter() - start

    metrics = {key: logged[key] for key in METRICS}
    metrics["fit_seconds"] = fit_seconds
    metrics["fit_and_test_seconds"] = total_seconds
    shutil.rmtree(checkpoints)  # each checkpoint is hundreds of MB
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--workdir", type=Path, default=Path("runs/compare"))
    parser.add_argument(
        "--only", nargs="*", default=None, help="experiment names to run (default: all)"
    )
    # Unknown flags (for example --model.text_encoder.freeze true) go to every mmlearn run.
    args, extra = parser.parse_known_args()

    results: dict[str, list[dict[str, float]]] = {}
    for label, config in EXPERIMENTS.items():
        if args.only and Path(config).stem.removeprefix("tuxpaint_") not in args.only:
            continue
        results[label] = []
        for seed in args.seeds:
            metrics = run_one(config, seed, args.workdir, extra)
            results[label].append(metrics)
            print(f"{label}, seed {seed}: {json.dumps(metrics)}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    payload = {
        "seeds": args.seeds,
        "machine": machine,
        "torch": torch.__version__,
        "results": results,
    }
    (args.out / "tuxpaint_modalities.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [
        "| model | test category acc | test category macro F1 | test subcategory acc "
        "| fit + test wall time (s) |",
        "|---|---|---|---|---|",
    ]
    for label, runs in results.items():
        cells = [summarize([run[key] for run in runs]) for key in METRICS]
        seconds = statistics.mean(run["fit_and_test_seconds"] for run in runs)
        lines.append(f"| {label} | {' | '.join(cells)} | {seconds:.0f} |")
    table = "\n".join(lines) + "\n"
    (args.out / "tuxpaint_modalities.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
