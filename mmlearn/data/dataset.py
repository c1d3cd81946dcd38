"""The map-style dataset over validated manifest samples."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch.utils.data import Dataset

from mmlearn.data.labels import label_target
from mmlearn.data.manifest import Sample
from mmlearn.data.processors import AudioProcessor, ImageProcessor
from mmlearn.errors import MediaDecodeError
from mmlearn.modalities import AUDIO, IMAGE, TEXT


class ManifestDataset(Dataset):
    """Decode one sample per index: text as a string, image and audio as tensors.

    Parameters
    ----------
    samples:
        Validated manifest rows.
    class_names:
        For each label column, its classes; a label becomes its index in that list.
    label_types:
        For each label column, its type; see ``mmlearn.data.labels`` for the targets.
    modalities:
        The modalities to load; the others are treated as absent.
    image, audio:
        The processors for those modalities (``None`` if the modality is not loaded).
    skip_errors:
        Return a ``skipped`` record instead of raising when a file fails to decode.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        class_names: Mapping[str, Sequence[str]],
        label_types: Mapping[str, str],
        modalities: Sequence[str],
        image: ImageProcessor | None = None,
        audio: AudioProcessor | None = None,
        skip_errors: bool = False,
    ):
        self.samples = list(samples)
        self.modalities = list(modalities)
        self.image = image
        self.audio = audio
        self.skip_errors = skip_errors
        self.label_types = dict(label_types)
        self.class_index = {
            column: {name: index for index, name in enumerate(names)}
            for column, names in class_names.items()
        }

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.samples[index]
        item: dict[str, Any] = {"id": sample.id, TEXT: None, IMAGE: None, AUDIO: None}
        if TEXT in self.modalities:
            item[TEXT] = sample.text
        try:
            if IMAGE in self.modalities and sample.image is not None and self.image is not None:
                item[IMAGE] = self.image(sample.image)
            if AUDIO in self.modalities and sample.audio is not None and self.audio is not None:
                item[AUDIO] = self.audio(sample.audio)
        except MediaDecodeError as error:
            if not self.skip_errors:
                raise MediaDecodeError(
                    error.path,
                    error.modality,
                    error.reason,
                    sample.id,
                    sample.row,
                    hint="Replace or remove the file, or set data.on_error: skip to leave "
                    "out such samples and list them in a report.",
                ) from error
            located = MediaDecodeError(
                error.path, error.modality, error.reason, sample.id, sample.row
            )
            # The collate step drops this item and reports it with the batch.
            return {
                "id": sample.id,
                "skipped": {
                    "id": sample.id,
                    "row": sample.row,
                    "path": error.path,
                    "reason": str(located),
                },
            }
        item["targets"] = {
            column: label_target(sample.labels.get(column), kind, self.class_index[column])
            for column, kind in self.label_types.items()
        }
        return item
