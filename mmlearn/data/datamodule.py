"""MultimodalDataModule: a manifest in, batches of the batch contract out.

Lightning calls the hooks in this order. ``__init__`` reads and validates the
manifest, so the class names exist before the model is built. ``setup(stage)`` runs on
every process and builds the datasets that the stage needs. The ``*_dataloader``
methods follow. ``on_after_batch_transfer`` runs on each batch once it is on the
device, and computes log-mel features there in float32 unless ``audio_features`` is
``worker``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import lightning as L
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from torch.utils.data import DataLoader

from mmlearn.data.cache import MediaCache
from mmlearn.data.collate import MultimodalCollator
from mmlearn.data.dataset import ManifestDataset
from mmlearn.data.labels import LABEL_TYPES, label_classes
from mmlearn.data.manifest import (
    MEDIA_COLUMNS,
    SPLITS,
    Sample,
    find_problems,
    load_manifest,
    read_manifest,
)
from mmlearn.data.processors import AudioProcessor, ImageProcessor, LogMelFeatures, TextProcessor
from mmlearn.data.processors.image import DEFAULT_MAX_PIXELS
from mmlearn.errors import ConfigError, ManifestError, RowProblem
from mmlearn.modalities import AUDIO, IMAGE, TEXT, check_modality

log = logging.getLogger(__name__)
# Every process reads the whole manifest, so set-up messages are logged by rank zero only.
warn_once = rank_zero_only(log.warning)
info_once = rank_zero_only(log.info)


class MultimodalDataModule(L.LightningDataModule):
    """Load a JSONL or CSV manifest of text, image and audio samples with labels.

    Parameters
    ----------
    manifest:
        One manifest file whose ``split_column`` assigns each row to train, val, test or
        predict. See ``mmlearn.data.manifest`` for the format.
    splits:
        Instead of ``manifest``: one manifest file per split, such as
        ``{train: train.jsonl, val: val.jsonl}``. These files need no split column,
        and a ``predict`` file, new data to label, needs no label columns.
    data_root:
        The folder that relative media paths resolve against and may not leave; by
        default the folder of each manifest file.
    labels:
        The label columns to read. Each becomes a task target with its own classes.
    label_types:
        The type of each label column: ``multiclass`` (the default), ``multilabel`` or
        ``regression`` (see ``mmlearn.data.labels``). The CLI links it from the types
        of ``model.tasks``.
    classes:
        Optional declared classes per label column; a label outside them is an error.
        Columns not listed take the sorted set of their values in the whole manifest.
        Regression columns have no classes. With ``--ckpt_path``, the CLI sets this to
        the classes stored in the checkpoint.
    split_column:
        The column that contains the split of each row.
    modalities:
        The modalities to load; the CLI links this to the encoders the model has.
    tokenizer:
        Hugging Face tokenizer name or folder; the CLI links it to the text encoder.
    max_text_length:
        Maximum tokens per text, special tokens included.
    image_size:
        Side in pixels of the square images fed to the model.
    max_image_pixels:
        Images with more pixels (width x height) are rejected before decoding.
    sample_rate:
        Rate in Hz that all audio is resampled to.
    max_audio_seconds:
        Longer clips are cropped to this length.
    audio_crop:
        Where long clips are cropped: ``auto`` (random in training, centred otherwise),
        ``random``, ``center`` or ``start``.
    n_mels:
        Log-mel bands.
    n_fft:
        Log-mel FFT window, in samples.
    hop_length:
        Log-mel hop between frames, in samples.
    audio_features:
        Where log-mel features are computed: ``device`` (batched on the GPU or CPU that
        trains, after transfer) or ``worker`` (batched in the DataLoader workers, which
        keeps a busy GPU free of the work). Both give float32 features.
    batch_size:
        Samples per batch, on each process under DDP.
    num_workers:
        DataLoader worker processes. ``0`` decodes in the training process, which
        suits debugging. Use 2 to 4 on a laptop, and about one per CPU core per GPU on
        a GPU node.
    persistent_workers:
        Keep the workers between epochs; applies only when ``num_workers > 0``.
    prefetch_factor:
        Batches loaded ahead per worker, PyTorch's default when null; applies only
        when ``num_workers > 0``.
    pin_memory:
        Page-locked batches for faster copies to a GPU. ``null`` turns it on when the
        trainer runs on CUDA.
    cache_dir:
        A folder for the on-disk cache of decoded media (see ``mmlearn.data.cache``):
        the first epoch fills it, and later epochs and runs read images and clips from
        it instead of decoding them. ``null`` turns caching off.
    augment:
        Random crops and flips of training images.
    predict_split:
        The split that ``predict`` runs on, for example ``test`` to inspect test errors.
    absent_modalities:
        Modalities to mark absent in every sample, for example ``[audio]`` in ``test``
        to measure how the model copes without it. The files are not read.
    on_error:
        ``raise`` stops at set-up with one report of every invalid row, and at the
        first file that fails to decode. ``skip`` drops such samples, logs each one,
        and writes their ids, paths and reasons to ``skipped_report``.
    skipped_report:
        The JSONL file of skipped samples; by default ``skipped_samples.jsonl`` in the
        trainer's log folder, or in ``trainer.default_root_dir`` (the working folder
        unless set) when logging is off. With several processes, files that fail to decode during
        a run go to ``<stem>.rank<N>.jsonl`` beside it, one file per rank.
    """

    def __init__(
        self,
        manifest: str | None = None,
        splits: Mapping[str, str] | None = None,
        data_root: str | None = None,
        labels: Sequence[str] = ("category",),
        label_types: Mapping[str, str] | None = None,
        classes: Mapping[str, Sequence[str]] | None = None,
        split_column: str = "split",
        modalities: Sequence[str] = (TEXT, IMAGE, AUDIO),
        tokenizer: str | None = "sentence-transformers/all-MiniLM-L6-v2",
        max_text_length: int = 64,
        image_size: int = 96,
        max_image_pixels: int = DEFAULT_MAX_PIXELS,
        sample_rate: int = 16000,
        max_audio_seconds: float = 3.0,
        audio_crop: Literal["auto", "random", "center", "start"] = "auto",
        n_mels: int = 64,
        n_fft: int = 400,
        hop_length: int = 160,
        audio_features: Literal["device", "worker"] = "device",
        batch_size: int = 32,
        num_workers: int = 0,
        persistent_workers: bool = True,
        prefetch_factor: int | None = None,
        pin_memory: bool | None = None,
        cache_dir: str | None = None,
        augment: bool = True,
        predict_split: str = "predict",
        absent_modalities: Sequence[str] = (),
        on_error: Literal["raise", "skip"] = "raise",
        skipped_report: str | None = None,
    ):
        super().__init__()
        self.save_hyperparameters()
        if (manifest is None) == (splits is None):
            raise ConfigError(
                "set exactly one of data.manifest (one file with a split column) and "
                "data.splits (one file per split, for example {train: train.jsonl})"
            )
        self.manifest = manifest if manifest is not None else ", ".join((splits or {}).values())
        self.labels = list(labels)
        self.label_types = {
            column: (label_types or {}).get(column, "multiclass") for column in self.labels
        }
        for column, kind in self.label_types.items():
            if kind not in LABEL_TYPES:
                raise ConfigError(
                    f"invalid type {kind!r} for label column {column!r}; use one of {LABEL_TYPES}"
                )

        if predict_split not in SPLITS:
            raise ConfigError(f"invalid data.predict_split {predict_split!r}; use one of {SPLITS}")
        self.modalities = [check_modality(name) for name in modalities]
        if not self.modalities:
            raise ConfigError(
                "no modality to load: data.modalities is empty. The CLI fills it from the "
                "encoders that are not null (model.text_encoder, model.image_encoder, "
                "model.audio_encoder), so set at least one of them"
            )
        self.absent_modalities = [check_modality(name) for name in absent_modalities]
        if set(self.modalities) <= set(self.absent_modalities):
            raise ConfigError(
                f"data.absent_modalities {self.absent_modalities} removes every modality the "
                f"model uses ({self.modalities}); leave at least one"
            )
        # The modalities whose inputs are read from disk.
        self.read_modalities = [m for m in self.modalities if m not in self.absent_modalities]
        for column in classes or {}:
            if column not in self.labels:
                raise ConfigError(
                    f"data.classes declares classes for {column!r}, which is not in "
                    f"data.labels {self.labels}; add it to data.labels or remove it"
                )

        if audio_features not in ("device", "worker"):
            raise ConfigError(
                f"invalid data.audio_features {audio_features!r}; use 'device' or 'worker'"
            )
        if on_error not in ("raise", "skip"):
            raise ConfigError(f"invalid data.on_error {on_error!r}; use 'raise' or 'skip'")
        self.skipped: list[dict[str, Any]] = []
        self._reported = 0
        self._report_file: Path | None = None
        if manifest is not None:
            self.samples = self._read_checked(manifest, split_column, classes)
        else:
            self.samples = self._load_split_files(splits or {}, classes)
        self.class_names = self._class_names(classes or {})
        self._warn_unusable()
        self.splits = self._split(self.samples)

        self.text = None
        if TEXT in self.modalities:
            if tokenizer is None:
                raise ConfigError("data.modalities includes text, so data.tokenizer must be set")
            self.text = TextProcessor(tokenizer, max_text_length)
        self.log_mel = self._log_mel_features()
        self.cache = MediaCache(cache_dir) if cache_dir is not None else None
        self.datasets: dict[str, ManifestDataset] = {}
        self._checked_lengths: set[str] = set()

    def _read_checked(
        self,
        path: str,
        split_column: str | None,
        classes: Mapping[str, Sequence[str]] | None,
        labels_required: bool = True,
    ) -> list[Sample]:
        """Read and validate one manifest file; with ``on_error: skip`` drop invalid rows."""
        root = self.hparams["data_root"]
        # Files of modalities the model does not read need not exist.
        file_columns = [name for name in MEDIA_COLUMNS if name in self.read_modalities]
        reading = {
            "label_columns": self.labels,
            "split_column": split_column,
            "root": root,
            "label_types": self.label_types,
            "labels_required": labels_required,
        }
        if self.hparams["on_error"] == "raise":
            return load_manifest(path, classes=classes, file_columns=file_columns, **reading)

        samples = read_manifest(path, **reading)
        problems = find_problems(samples, classes, file_columns)
        reasons: dict[int, list[str]] = {}
        for problem in problems:
            reasons.setdefault(problem.row, []).append(problem.reason)

        valid_samples = []
        for sample in samples:
            if sample.row not in reasons:
                valid_samples.append(sample)
                continue
            record = {
                "id": sample.id,
                "manifest": path,
                "row": sample.row,
                "paths": [str(p) for p in (sample.image, sample.audio) if p is not None],
                "reason": "; ".join(reasons[sample.row]),
            }
            self.skipped.append(record)

        if reasons:
            warn_once(
                "Skipping %d invalid row(s) of %s (data.on_error is 'skip'); "
                "their ids and reasons go to the skipped-samples report",
                len(reasons),
                path,
            )
        return valid_samples

    def _load_split_files(
        self, files: Mapping[str, str], classes: Mapping[str, Sequence[str]] | None
    ) -> list[Sample]:
        samples: list[Sample] = []
        first_file_of_id: dict[str, str] = {}
        for split, path in files.items():
            if split not in SPLITS:
                raise ConfigError(f"invalid split {split!r} in data.splits; use {list(SPLITS)}")
            # New data to predict on need not have the label columns.
            for sample in self._read_checked(path, None, classes, split != "predict"):
                if sample.id in first_file_of_id:
                    raise ManifestError(
                        path,
                        [
                            RowProblem(
                                sample.row,
                                sample.id,
                                f"duplicate id, also used in {first_file_of_id[sample.id]}",
                            )
                        ],
                    )
                first_file_of_id[sample.id] = path
                sample.split = split
                samples.append(sample)
        return samples

    def _warn_unusable(self) -> None:
        """Warn about samples that have none of the modalities the model uses."""
        unusable = [s for s in self.samples if not set(s.modalities()) & set(self.modalities)]
        if unusable:
            warn_once(
                "%d sample(s) have none of the modalities the model uses (%s), so the model "
                "sees only learned placeholders for them (ids %s%s)",
                len(unusable),
                ", ".join(self.modalities),
                ", ".join(s.id for s in unusable[:5]),
                ", ..." if len(unusable) > 5 else "",
            )

    def _class_names(self, declared: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
        """Return the classes of each label column; regression columns have none."""
        names = {}
        for column, kind in self.label_types.items():
            if column in declared:
                names[column] = list(declared[column])
            else:
                values = [sample.labels[column] for sample in self.samples]
                names[column] = label_classes(values, kind)
            least = {"multiclass": 2, "multilabel": 1, "regression": 0}[kind]
            if len(names[column]) < least:
                raise ConfigError(
                    f"label column {column!r} in {self.manifest} has {len(names[column])} "
                    f"class(es); a {kind} task needs at least {least}. List them in "
                    f"data.classes.{column}, or give --ckpt_path to use the classes of a "
                    "trained model"
                )
        return names

    def _split(self, samples: Sequence[Sample]) -> dict[str, list[Sample]]:
        splits: dict[str, list[Sample]] = {name: [] for name in SPLITS}
        for sample in samples:
            if sample.split is None:
                raise ConfigError(
                    f"row {sample.row} (id {sample.id!r}) of {self.manifest} has no split; "
                    f"fill the {self.hparams['split_column']!r} column with one of {list(SPLITS)}"
                )
            splits[sample.split].append(sample)
        summary = ", ".join(f"{name}={len(rows)}" for name, rows in splits.items() if rows)
        info_once("Manifest %s: %d samples (%s)", self.manifest, len(samples), summary)
        return splits

    @property
    def num_classes(self) -> dict[str, int]:
        """Number of classes of each label column."""
        return {column: len(names) for column, names in self.class_names.items()}

    def _dataset(self, split: str) -> ManifestDataset:
        if split not in self.datasets:
            train = split == "train"
            hparams = self.hparams
            image = ImageProcessor(
                hparams["image_size"],
                train,
                hparams["augment"],
                hparams["max_image_pixels"],
                self.cache,
            )
            audio = AudioProcessor(
                hparams["sample_rate"],
                hparams["max_audio_seconds"],
                train,
                hparams["audio_crop"],
                self.cache,
            )
            self.datasets[split] = ManifestDataset(
                self.splits[split],
                self.class_names,
                self.label_types,
                self.read_modalities,
                image=image if IMAGE in self.modalities else None,
                audio=audio if AUDIO in self.modalities else None,
                skip_errors=hparams["on_error"] == "skip",
            )
        return self.datasets[split]

    def setup(self, stage: str | None = None) -> None:
        needed = {
            "fit": ["train", "val"],
            "validate": ["val"],
            "test": ["test"],
            "predict": [self.hparams["predict_split"]],
        }
        stage_name = str(getattr(stage, "value", stage))
        for split in needed.get(stage_name, []):
            if not self.splits[split]:
                if self.hparams["splits"] is not None:
                    fix = "add a file for it in data.splits"
                else:
                    fix = f"assign rows to it in the {self.hparams['split_column']!r} column"
                if stage_name == "predict":
                    fix += ", or predict another split with --data.predict_split test"
                raise ConfigError(
                    f"the {split!r} split of {self.manifest} is empty, but {stage_name!r} "
                    f"needs it; {fix}"
                )
            self._dataset(split)
            self._warn_truncated(split)
        self._report_file = None  # a new stage may log to a new folder
        self.skipped_report_path()
        self._write_skipped(at_setup=True)

    def skipped_report_path(self, per_rank: bool = True) -> Path:
        """Return the JSONL file that lists skipped samples.

        With several processes and ``per_rank``, each rank has its own ``.rank<N>``
        file for the files that fail to decode, because the ranks decode different
        samples. Rows rejected at set-up are the same on every rank, so rank zero
        writes them to the file without the suffix.
        """
        trainer = self.trainer
        if self._report_file is None:
            configured = self.hparams["skipped_report"]
            if configured is not None:
                self._report_file = Path(configured)
            elif trainer is not None:
                # trainer.log_dir is a collective call under DDP, so setup() calls this
                # on every process and the file is kept for the workers' skips later.
                folder = trainer.log_dir or trainer.default_root_dir
                self._report_file = Path(folder) / "skipped_samples.jsonl"
            else:
                self._report_file = Path("skipped_samples.jsonl")
        path = self._report_file
        if per_rank and trainer is not None and trainer.world_size > 1:
            path = path.with_name(f"{path.stem}.rank{trainer.global_rank}{path.suffix}")
        return path

    def _write_skipped(self, at_setup: bool = False) -> None:
        """Append the skipped samples not yet written to the report file.

        ``at_setup`` marks rows rejected while reading the manifest, which every rank
        finds alike and rank zero alone writes.
        """
        fresh = self.skipped[self._reported :]
        if not fresh:
            return
        self._reported = len(self.skipped)
        path = self.skipped_report_path(per_rank=not at_setup)
        trainer = self.trainer
        if at_setup and trainer is not None and not trainer.is_global_zero:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as file:
            for record in fresh:
                file.write(json.dumps(record, ensure_ascii=False) + "\n")
        log.warning("%d sample(s) skipped so far; see %s", len(self.skipped), path)

    def _warn_truncated(self, split: str) -> None:
        """Log one warning per split that counts the texts cut to ``max_text_length``."""
        if self.text is None or split in self._checked_lengths:
            return
        self._checked_lengths.add(split)
        samples = [sample for sample in self.splits[split] if sample.text is not None]
        truncated = self.text.find_truncated([sample.text for sample in samples])
        if truncated:
            ids = [samples[index].id for index in truncated]
            warn_once(
                "%d of %d texts in the %s split exceed data.max_text_length=%d tokens and are "
                "truncated (ids %s%s); raise max_text_length to keep more of them",
                len(ids),
                len(samples),
                split,
                self.text.max_length,
                ", ".join(ids[:5]),
                ", ..." if len(ids) > 5 else "",
            )

    def _log_mel_features(self) -> LogMelFeatures:
        hparams = self.hparams
        return LogMelFeatures(
            hparams["sample_rate"], hparams["n_mels"], hparams["n_fft"], hparams["hop_length"]
        )

    def _pin_memory(self) -> bool:
        if self.hparams["pin_memory"] is not None:
            return self.hparams["pin_memory"]
        trainer = self.trainer
        return trainer is not None and trainer.strategy.root_device.type == "cuda"

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        workers = self.hparams["num_workers"]
        in_worker = self.hparams["audio_features"] == "worker" and AUDIO in self.modalities
        collate = MultimodalCollator(
            self.modalities,
            self.text,
            self.hparams["image_size"],
            # Its own instance, which stays on the CPU when self.log_mel moves to a GPU.
            log_mel=self._log_mel_features() if in_worker else None,
        )
        dataset = self._dataset(split)
        sampler = None
        trainer = self.trainer
        if not shuffle and trainer is not None and trainer.world_size > 1:
            # Lightning's default evaluation sampler pads the ranks to equal length by
            # repeating samples, which would count them twice in the metrics. This one
            # gives each rank a disjoint share, so ranks may run different numbers of
            # batches: evaluation steps must not need collectives.
            sampler = UnrepeatedDistributedSampler(
                dataset, num_replicas=trainer.world_size, rank=trainer.global_rank, shuffle=False
            )
        return DataLoader(
            dataset,
            batch_size=self.hparams["batch_size"],
            shuffle=shuffle,
            sampler=sampler,
            num_workers=workers,
            pin_memory=self._pin_memory(),
            persistent_workers=self.hparams["persistent_workers"] and workers > 0,
            prefetch_factor=self.hparams["prefetch_factor"] if workers > 0 else None,
            collate_fn=collate,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.hparams["predict_split"], shuffle=False)

    def on_after_batch_transfer(self, batch: dict[str, Any], dataloader_idx: int) -> dict[str, Any]:
        """Record skipped samples, then compute log-mel features on the batch's device.

        The features are float32 under any precision.
        """
        # Each epoch decodes the same files again, so each sample is reported once.
        known = {record["id"] for record in self.skipped}
        for record in batch.pop("skipped", []):
            if record["id"] in known:
                continue
            known.add(record["id"])
            log.warning("Skipped sample %s: %s", record["id"], record["reason"])
            self.skipped.append(record)
        self._write_skipped()
        if not batch["ids"]:
            return batch
        if AUDIO in batch and "features" not in batch[AUDIO]:
            audio = batch[AUDIO]
            self.log_mel.to(audio["waveform"].device)
            audio["features"], audio["frame_lengths"] = self.log_mel(
                audio["waveform"], audio["lengths"]
            )
        return batch
