"""Write the records that ``predict`` returns to a JSONL file, one line per sample."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import BasePredictionWriter

log = logging.getLogger(__name__)


def manifest_labels(trainer: L.Trainer) -> dict[str, dict[str, Any]]:
    """Return the labels of each sample in the predicted split, by id; empty labels omitted.

    Only a DataModule with ``splits`` and a ``predict_split`` setting, such as
    ``MultimodalDataModule``, has them; for any other the result is empty.
    """
    data = trainer.datamodule
    splits = getattr(data, "splits", None)
    split = getattr(data, "hparams", {}).get("predict_split")
    if not isinstance(splits, dict) or split not in splits:
        return {}
    return {
        sample.id: {column: value for column, value in sample.labels.items() if value is not None}
        for sample in splits[split]
    }


class PredictionWriter(BasePredictionWriter):
    """Write ``predict`` results to ``output`` (JSONL) when the epoch ends.

    Each line contains a sample id and, per task, the predicted class and its
    probability. Where the predicted split has labels, as with ``predict_split: test``,
    ``target`` maps each label column to the sample's label in the manifest, so that
    errors can be read off the file. Without ``output`` the file is
    ``predictions.jsonl`` in the trainer's log folder. With several processes each
    rank writes its own ``<stem>.rank<N>.jsonl``, because the distributed sampler
    gives each rank a share.
    """

    def __init__(self, output: str | None = None):
        super().__init__(write_interval="epoch")
        self.output = output
        self.written: Path | None = None

    def _path(self, trainer: L.Trainer) -> Path:
        folder = trainer.log_dir or trainer.default_root_dir
        path = Path(self.output) if self.output else Path(folder) / "predictions.jsonl"
        if trainer.world_size > 1:
            path = path.with_name(f"{path.stem}.rank{trainer.global_rank}{path.suffix}")
        return path

    def write_on_epoch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        predictions: Sequence[Any],
        batch_indices: Sequence[Any],
    ) -> None:
        path = self._path(trainer)
        path.parent.mkdir(parents=True, exist_ok=True)
        # With one predict dataloader Lightning passes a list of batches, else one list each.
        batches = predictions
        several_loaders = bool(batches) and bool(batches[0]) and isinstance(batches[0][0], list)
        if several_loaders:
            batches = [batch for loader in batches for batch in loader]
        targets = manifest_labels(trainer)
        with path.open("w", encoding="utf-8") as file:
            for batch in batches:
                for record in batch:
                    target = targets.get(record["id"])
                    if target:
                        record = {**record, "target": target}
                    file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.written = path
        log.info("Wrote predictions to %s", path)
