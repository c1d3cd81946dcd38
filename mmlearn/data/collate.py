"""Collate decoded samples into the batch dictionary that every model layer reads.

The batch contract:

- ``ids``: list of manifest ids;
- ``present[modality]``: bool (B,), whether each sample has that modality;
- ``text``: ``input_ids`` and ``attention_mask`` (B, T);
- ``image``: ``pixels`` (B, 3, H, W);
- ``audio``: ``waveform`` (B, S) and ``lengths`` (B,) in samples; with features
  computed in the workers also ``features`` (B, n_mels, frames) in float32 and
  ``frame_lengths`` (B,);
- ``targets[label_column]``: long (B,) for multiclass columns, with -1 where the
  sample has no label; float (B, C) for multilabel and float (B,) for regression
  columns (see ``mmlearn.data.labels``);
- ``skipped`` (only when samples failed to decode and skipping is on): one record per
  dropped sample with its id, row, path and reason. ``B`` counts the kept samples.

Absent modalities are filled with zeros (an empty string for text) and marked in
``present``, so encoders run on fixed shapes and fusion can mask them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from mmlearn.data.processors import LogMelFeatures, TextProcessor
from mmlearn.modalities import AUDIO, IMAGE, TEXT


class MultimodalCollator:
    """Stack decoded samples, tokenize text per batch and pad audio to the longest clip.

    With ``log_mel``, the log-mel features of each batch are computed here, in the
    DataLoader worker, instead of on the device after transfer.
    """

    def __init__(
        self,
        modalities: Sequence[str],
        text: TextProcessor | None = None,
        image_size: int = 96,
        log_mel: LogMelFeatures | None = None,
    ):
        if TEXT in modalities and text is None:
            raise ValueError("the text modality needs a TextProcessor; set data.tokenizer")
        self.modalities = list(modalities)
        self.text = text
        self.image_size = image_size
        self.log_mel = log_mel

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        skipped = [item["skipped"] for item in items if "skipped" in item]
        items = [item for item in items if "skipped" not in item]
        batch: dict[str, Any] = {"ids": [item["id"] for item in items], "present": {}}
        if skipped:
            batch["skipped"] = skipped
        if not items:
            # Every sample failed to decode: an empty batch that the module skips.
            batch["targets"] = {}
            return batch

        if TEXT in self.modalities and self.text is not None:
            texts = [item[TEXT] for item in items]
            batch["present"][TEXT] = torch.tensor([t is not None for t in texts])
            batch[TEXT] = self.text([t if t is not None else "" for t in texts])

        if IMAGE in self.modalities:
            images = [item[IMAGE] for item in items]
            batch["present"][IMAGE] = torch.tensor([image is not None for image in images])
            blank = torch.zeros(3, self.image_size, self.image_size)
            batch[IMAGE] = {
                "pixels": torch.stack([image if image is not None else blank for image in images])
            }

        if AUDIO in self.modalities:
            clips = [item[AUDIO] for item in items]
            lengths = torch.tensor([0 if clip is None else clip.shape[0] for clip in clips])
            waveform = torch.zeros(len(clips), max(int(lengths.max()), 1))
            for row, clip in enumerate(clips):
                if clip is not None:
                    waveform[row, : clip.shape[0]] = clip
            batch["present"][AUDIO] = lengths > 0
            batch[AUDIO] = {"waveform": waveform, "lengths": lengths}
            if self.log_mel is not None:
                batch[AUDIO]["features"], batch[AUDIO]["frame_lengths"] = self.log_mel(
                    waveform, lengths
                )

        columns = items[0]["targets"].keys() if items else []
        batch["targets"] = {
            column: torch.stack([torch.as_tensor(item["targets"][column]) for item in items])
            for column in columns
        }
        return batch
