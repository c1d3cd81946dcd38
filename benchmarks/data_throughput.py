"""Measure how fast the DataModule feeds training batches, against a naive pipeline.

Both pipelines turn the training split of the Tux Paint manifest into batches of the
same tensors: tokenized text, 64 x 64 normalized images and log-mel features of clips
cropped to 2 s, with the settings of ``configs/data/tuxpaint.yaml``.

- ``naive``: one sample at a time in the training process, as a first script would
  do it. PIL decodes and resizes each picture. Each clip is resampled and turned into
  log-mel features on its own, and each text is tokenized on its own.
- ``datamodule``: ``MultimodalDataModule`` as training uses it, with its worker count,
  cache and feature placement set per run; features computed on the device are
  computed here by the same ``on_after_batch_transfer`` hook that Lightning calls.

Each pipeline runs in its own process, so its peak memory is its own. A run reads the
training split ``--epochs`` times and reports samples per second of each epoch; the
table shows the medians. Runs with a warm cache fill a fresh cache folder first,
outside the timing.

    python benchmarks/data_throughput.py --epochs 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import soundfile
import torch
import torchaudio
import yaml
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from mmlearn.data.datamodule import MultimodalDataModule
from mmlearn.data.processors.image import IMAGENET_MEAN, IMAGENET_STD
from mmlearn.hub import resolve_pretrained

DATA_CONFIG = Path("configs/data/tuxpaint.yaml")
TOKENIZER = "sentence-transformers/all-MiniLM-L6-v2"

RUNS: dict[str, dict[str, Any]] = {
    "naive": {},
    "datamodule, 0 workers, no cache": {"num_workers": 0},
    "datamodule, 2 workers, no cache": {"num_workers": 2},
    "datamodule, 2 workers, warm cache": {"num_workers": 2, "cache": True},
    "datamodule, 2 workers, warm cache, features in workers": {
        "num_workers": 2,
        "cache": True,
        "audio_features": "worker",
    },
}


def naive_batches(settings: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield the batches that the naive pipeline builds from the train split."""
    from transformers import AutoTokenizer

    root = Path(settings["manifest"]).parent
    rows = [json.loads(line) for line in Path(settings["manifest"]).read_text().splitlines()]
    rows = [row for row in rows if row["split"] == "train"]
    tokenizer = AutoTokenizer.from_pretrained(resolve_pretrained(TOKENIZER))
    size, rate = settings["image_size"], settings["sample_rate"]
    to_tensor = v2.Compose(
        [
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )
    melspec = torchaudio.transforms.MelSpectrogram(rate, n_fft=400, n_mels=settings["n_mels"])
    max_samples = int(rate * settings["max_audio_seconds"])
    batch_size = settings["batch_size"]

    for start in range(0, len(rows), batch_size):
        ids, texts, images, features = [], [], [], []
        for row in rows[start : start + batch_size]:
            ids.append(row["id"])
            text = row.get("text") or ""
            texts.append(tokenizer(text, truncation=True, max_length=32)["input_ids"])
            if row.get("image"):
                picture = Image.open(root / row["image"]).convert("RGB").resize((size, size))
                images.append(to_tensor(picture))
            if row.get("audio"):
                data, clip_rate = soundfile.read(root / row["audio"], dtype="float32")
                clip = torch.from_numpy(data)
                clip = clip.mean(dim=1) if clip.ndim == 2 else clip
                clip = torchaudio.functional.resample(clip, clip_rate, rate)[:max_samples]
                features.append(torch.log(melspec(clip) + 1e-6))
        longest = max(len(tokens) for tokens in texts)
        frames = max(f.shape[-1] for f in features)
        yield {
            "ids": ids,
            "input_ids": torch.tensor([t + [0] * (longest - len(t)) for t in texts]),
            "pixels": torch.stack(images),
            "features": torch.stack(
                [torch.nn.functional.pad(f, (0, frames - f.shape[-1])) for f in features]
            ),
        }


def datamodule_batches(data: MultimodalDataModule, loader: DataLoader) -> Iterator[dict[str, Any]]:
    """Yield the training batches of one epoch, with the device hook applied."""
    for batch in loader:
        yield data.on_after_batch_transfer(batch, 0)


def worker_peak_rss_mib() -> float | None:
    """Return the largest peak RSS among this process's live children (the workers).

    Forked workers share unchanged pages with the main process, and RSS counts those
    pages in both, so this overstates what a worker adds.
    """
    peaks = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (task / "children").read_text().split():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
    return max(peaks, default=None)


def measure(name: str, epochs: int) -> dict[str, Any]:
    """Run one pipeline in this process and return its speed and peak memory."""
    settings = yaml.safe_load(DATA_CONFIG.read_text())
    run = RUNS[name]
    with tempfile.TemporaryDirectory() as cache_dir:
        if name == "naive":
            epoch_batches = lambda: naive_batches(settings)  # noqa: E731
        else:
            options = {key: value for key, value in settings.items()}
            options["num_workers"] = run["num_workers"]
            options["audio_features"] = run.get("audio_features", "device")
            options["cache_dir"] = cache_dir if run.get("cache") else None
            options["tokenizer"] = TOKENIZER
            data = MultimodalDataModule(**options)
            data.setup("fit")
            # One loader for every epoch, as Lightning does, so workers persist.
            loader = data.train_dataloader()
            if run.get("cache"):
                for _ in datamodule_batches(data, loader):  # fill the cache
                    pass
            epoch_batches = lambda: datamodule_batches(data, loader)  # noqa: E731

        rates = []
        for _ in range(epochs):
            started = time.perf_counter()
            samples = sum(len(batch["ids"]) for batch in epoch_batches())
            rates.append(samples / (time.perf_counter() - started))
        workers = worker_peak_rss_mib()
    return {
        "samples_per_epoch": samples,
        "samples_per_s": rates,
        # On Linux ru_maxrss is in KiB.
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_peak_rss_mib": workers,
    }


def write_results(results: dict[str, dict[str, Any]], out: Path, epochs: int) -> str:
    naive = statistics.median(results["naive"]["samples_per_s"])
    lines = [
        "| pipeline | samples/s (median) | x naive | peak RSS, main process (MiB) "
        "| peak RSS, largest worker (MiB) |",
        "|---|---|---|---|---|",
    ]
    for name, result in results.items():
        rate = statistics.median(result["samples_per_s"])
        workers = result["worker_peak_rss_mib"]
        lines.append(
            f"| {name} | {rate:.0f} | {rate / naive:.1f} | {result['peak_rss_mib']:.0f} "
            f"| {'-' if workers is None else f'{workers:.0f}'} |"
        )
    table = "\n".join(lines) + "\n"
    machine = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "processor": platform.processor() or platform.machine(),
        "cpus": len(os.sched_getaffinity(0)),
    }
    payload = {"epochs": epochs, "machine": machine, "results": results}
    out.mkdir(parents=True, exist_ok=True)
    (out / "data_throughput.json").write_text(json.dumps(payload, indent=2))
    (out / "data_throughput.md").write_text(table)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per pipeline")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--only", choices=list(RUNS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only is not None:
        # A child process: measure one pipeline and print its result as JSON.
        print(json.dumps(measure(args.only, args.epochs)))
        return

    results = {}
    for name in RUNS:
        command = [sys.executable, __file__, "--epochs", str(args.epochs), "--only", name]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results[name] = json.loads(output.strip().splitlines()[-1])
        rates = ", ".join(f"{rate:.0f}" for rate in results[name]["samples_per_s"])
        print(f"{name}: {rates} samples/s", flush=True)
    print(write_results(results, args.out, args.epochs))


if __name__ == "__main__":
    main()
