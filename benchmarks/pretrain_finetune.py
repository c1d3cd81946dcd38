"""Contrastive pretraining, then fine-tuning, against training from scratch on the stamps.

For each seed: ``mmlearn fit`` with the pretraining overlay (no labels read), then
``mmlearn fit`` of the main job with ``--model.init_from`` its best checkpoint, then
``mmlearn test``. The from-scratch numbers are the fused runs of the same seeds in
``tuxpaint_modalities.json``, which ``compare_modalities.py`` writes.

    python benchmarks/pretrain_finetune.py --seeds 0 1 2 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import time
from pathlib import Path

import torch

from benchmark_runs import fit_run, run_test, summarize  # beside this script

MAIN_JOB = "configs/experiment/tuxpaint_fused.yaml"
PRETRAIN_OVERLAY = "configs/experiment/tuxpaint_pretrain.yaml"
FROM_SCRATCH = "fused (text + image + audio)"
METRICS = ("test/category/acc", "test/category/f1", "test/subcategory/acc")


def run_seed(seed: int, workdir: Path) -> dict[str, float]:
    """Pretrain, fine-tune and test with one seed; return the test metrics and wall time."""
    common = ["--seed_everything", str(seed), "--trainer.enable_progress_bar", "false"]
    start = time.perf_counter()
    pretrain = ["--config", MAIN_JOB, "--config", PRETRAIN_OVERLAY, *common]
    pretrained = fit_run(pretrain, f"pretrain_seed{seed}", workdir)
    pretrain_seconds = time.perf_counter() - start

    tune = ["--config", MAIN_JOB, *common]
    init = ["--model.init_from", str(pretrained / "best.ckpt")]
    tuned = fit_run([*tune, *init], f"finetune_seed{seed}", workdir)
    logged = run_test(tune, tuned / "best.ckpt")

    metrics = {key: logged[key] for key in METRICS}
    metrics["pretrain_seconds"] = pretrain_seconds
    metrics["total_seconds"] = time.perf_counter() - start
    for folder in (pretrained, tuned):
        shutil.rmtree(folder)  # each checkpoint is hundreds of MB
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--workdir", type=Path, default=Path("runs/pretrain_finetune"))
    args = parser.parse_args()

    scratch_file = args.out / "tuxpaint_modalities.json"
    scratch = json.loads(scratch_file.read_text())
    by_seed = dict(zip(scratch["seeds"], scratch["results"][FROM_SCRATCH], strict=True))
    missing = [seed for seed in args.seeds if seed not in by_seed]
    if missing:
        raise SystemExit(f"{scratch_file} has no fused run for seeds {missing}")

    runs = []
    for seed in args.seeds:
        metrics = run_seed(seed, args.workdir)
        runs.append(metrics)
        print(f"seed {seed}: {json.dumps(metrics)}", flush=True)

    machine = f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    payload = {"seeds": args.seeds, "machine": machine, "torch": torch.__version__, "runs": runs}
    (args.out / "tuxpaint_pretrain_finetune.json").write_text(json.dumps(payload, indent=2) + "\n")

    baseline = [by_seed[seed] for seed in args.seeds]
    lines = [
        "| start | test category acc | test category macro F1 | test subcategory acc |",
        "|---|---|---|---|",
    ]
    for label, results in (("from scratch", baseline), ("contrastive pretraining", runs)):
        cells = [summarize([result[key] for result in results]) for key in METRICS]
        lines.append(f"| {label} | {' | '.join(cells)} |")
    gains = [
        f"seed {seed}: {100 * (tuned[METRICS[0]] - base[METRICS[0]]):+.1f}"
        for seed, tuned, base in zip(args.seeds, runs, baseline, strict=True)
    ]
    lines += ["", f"Category accuracy points gained per seed: {', '.join(gains)}."]
    table = "\n".join(lines) + "\n"
    (args.out / "tuxpaint_pretrain_finetune.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
