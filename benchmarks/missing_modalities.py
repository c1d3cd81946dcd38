"""Test the fused Tux Paint model with each modality removed, with and without modality dropout.

For each variant, fits ``configs/experiment/tuxpaint_fused.yaml`` (plus the variant's
overrides) and tests its best checkpoint four times: with every modality, then with
text, image or audio marked absent in every test sample (``data.absent_modalities``).
Writes ``results/tuxpaint_missing_modalities.{json,md}``.

    python benchmarks/missing_modalities.py --seeds 0
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from benchmark_runs import fit_run, run_test, summarize  # beside this script

CONFIG = "configs/experiment/tuxpaint_fused.yaml"
VARIANTS = {
    "no modality dropout": [],
    "modality dropout (text 0.3, image 0.2, audio 0.2)": [
        "--model.modality_dropout",
        "{text: 0.3, image: 0.2, audio: 0.2}",
    ],
}
REMOVED = [None, "text", "image", "audio"]


def evaluate(variant: list[str], name: str, workdir: Path) -> dict[str, float]:
    """Fit one variant and return its test category accuracy per removed modality.

    ``name`` names the run folder; ``variant`` contains the CLI overrides, the seed included.
    """
    common = ["--config", CONFIG, *variant, "--trainer.enable_progress_bar", "false"]
    checkpoints = fit_run(common, name, workdir)
    accuracy = {}
    for removed in REMOVED:
        metrics = run_test(common, checkpoints / "best.ckpt", removed)
        accuracy[removed or "none"] = metrics["test/category/acc"]
    shutil.rmtree(checkpoints)
    return accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--workdir", type=Path, default=Path("runs/missing"))
    args = parser.parse_args()

    results = {}
    for number, (label, variant) in enumerate(VARIANTS.items()):
        results[label] = []
        for seed in args.seeds:
            flags = [*variant, "--seed_everything", str(seed)]
            accuracy = evaluate(flags, f"variant{number}_seed{seed}", args.workdir)
            results[label].append(accuracy)
        print(f"{label}: {json.dumps(results[label])}", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    payload = {"seeds": args.seeds, "results": results}
    (args.out / "tuxpaint_missing_modalities.json").write_text(json.dumps(payload, indent=2))
    lines = [
        "| fused model | all modalities | without text | without image | without audio |",
        "|---|---|---|---|---|",
    ]
    for label, runs in results.items():
        cells = []
        for removed in ("none", "text", "image", "audio"):
            cells.append(summarize([run[removed] for run in runs]))
        lines.append(f"| {label} | {' | '.join(cells)} |")
    table = "\n".join(lines) + "\n"
    (args.out / "tuxpaint_missing_modalities.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
