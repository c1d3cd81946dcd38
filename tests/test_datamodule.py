from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mmlearn.data.datamodule import MultimodalDataModule
from mmlearn.errors import ConfigError, ManifestError, MediaDecodeError
from tests.helpers import TEXT_MODEL, write_jsonl


def make_data(**settings) -> MultimodalDataModule:
    defaults = {
        "labels": ["category", "subcategory"],
        "tokenizer": TEXT_MODEL,
        "image_size": 16,
        "n_mels": 16,
        "max_audio_seconds": 1.0,
        "batch_size": 4,
    }
    defaults.update(settings)
    return MultimodalDataModule(**defaults)


def test_batch_contract_after_transfer(make_manifest):
    data = make_data(manifest=str(make_manifest(per_split=4)))
    assert data.class_names == {"category": ["cold", "warm"], "subcategory": ["a", "b"]}
    data.setup("fit")
    # The validation loader keeps manifest order, so rows can be checked by position.
    batch = next(iter(data.val_dataloader()))
    batch = data.on_after_batch_transfer(batch, 0)

    assert len(batch["ids"]) == 4
    assert batch["image"]["pixels"].shape == (4, 3, 16, 16)
    assert batch["text"]["input_ids"].shape[0] == 4
    features = batch["audio"]["features"]
    assert features.dtype == torch.float32
    assert features.shape[:2] == (4, 16)
    lengths = batch["audio"]["lengths"]
    assert (batch["audio"]["frame_lengths"] == lengths // 160 + 1).all()
    # Every fourth sample of the manifest has no audio.
    assert batch["present"]["audio"].tolist() == [True, True, True, False]
    assert batch["targets"]["subcategory"].tolist() == [1, 0, 0, 1]


def test_one_file_per_split(tmp_path: Path, make_manifest):
    rows = [json.loads(line) for line in make_manifest(per_split=3).read_text().splitlines()]
    files = {}
    for split in ("train", "val"):
        part = [
            {k: v for k, v in row.items() if k != "split"} for row in rows if row["split"] == split
        ]
        files[split] = str(write_jsonl(tmp_path / f"{split}.jsonl", part))
    data = make_data(splits=files)
    assert [s.id for s in data.splits["train"]] == ["train-0", "train-1", "train-2"]
    assert [s.id for s in data.splits["val"]] == ["val-0", "val-1", "val-2"]
    data.setup("fit")
    with pytest.raises(ConfigError, match=r"the 'test' split .* is empty"):
        data.setup("test")


def test_split_files_duplicate_id_and_bad_name(tmp_path: Path, media_dir: Path):
    row = {"id": "a", "image": "media/red.png", "category": "warm", "subcategory": "x"}
    other = {"id": "b", "image": "media/blue.png", "category": "cold", "subcategory": "y"}
    train = write_jsonl(tmp_path / "train.jsonl", [row, other])
    val = write_jsonl(tmp_path / "val.jsonl", [row])
    with pytest.raises(ManifestError, match=r"row 1 \(id 'a'\): duplicate id, also used in"):
        make_data(splits={"train": str(train), "val": str(val)})
    with pytest.raises(ConfigError, match="invalid split 'validation'"):
        make_data(splits={"train": str(train), "validation": str(val)})


def test_manifest_and_splits_are_exclusive(make_manifest):
    path = str(make_manifest(per_split=2))
    with pytest.raises(ConfigError, match=r"set exactly one of data\.manifest"):
        make_data(manifest=path, splits={"train": path})
    with pytest.raises(ConfigError, match=r"set exactly one of data\.manifest"):
        make_data()


def test_declared_classes_must_name_a_label(make_manifest):
    path = str(make_manifest(per_split=2))
    with pytest.raises(ConfigError, match="declares classes for 'colour'"):
        make_data(manifest=path, classes={"colour": ["red"]})


def test_image_only_data_skips_text_and_audio(make_manifest):
    data = make_data(manifest=str(make_manifest(per_split=2)), modalities=["image"], tokenizer=None)
    data.setup("fit")
    batch = next(iter(data.val_dataloader()))
    assert set(batch["present"]) == {"image"}
    assert data.text is None


def test_absent_modalities_marked_for_every_sample(make_manifest):
    data = make_data(manifest=str(make_manifest(per_split=4)), absent_modalities=["audio"])
    data.setup("test")
    batch = next(iter(data.test_dataloader()))
    assert batch["present"]["audio"].tolist() == [False] * 4
    assert batch["audio"]["lengths"].tolist() == [0] * 4
    assert batch["present"]["image"].all()
    with pytest.raises(ConfigError, match="removes every modality"):
        make_data(
            manifest=str(make_manifest(per_split=2)),
            modalities=["image"],
            tokenizer=None,
            absent_modalities=["image"],
        )


def test_files_of_unread_modalities_need_not_exist(tmp_path: Path, media_dir: Path):
    rows = [
        {"id": "a", "image": "media/red.png", "audio": "media/gone.wav", "category": "warm"},
        {"id": "b", "image": "media/blue.png", "audio": "media/gone.wav", "category": "cold"},
    ]
    rows = [{**row, "subcategory": row["category"], "split": "train"} for row in rows]
    path = str(write_jsonl(tmp_path / "m.jsonl", rows))
    data = make_data(manifest=path, modalities=["image"], tokenizer=None)
    assert len(data.samples) == 2
    with pytest.raises(ManifestError, match=r"audio file not found: .*gone\.wav"):
        make_data(manifest=path, modalities=["image", "audio"], tokenizer=None)


def test_undecodable_file_error_names_row_and_fix(tmp_path: Path, media_dir: Path):
    (media_dir / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    rows = [
        {"id": "good", "image": "media/red.png", "category": "warm", "split": "val"},
        {"id": "bad", "image": "media/broken.png", "category": "cold", "split": "val"},
    ]
    path = str(write_jsonl(tmp_path / "m.jsonl", rows))
    data = make_data(manifest=path, labels=["category"], modalities=["image"], tokenizer=None)
    data.setup("validate")

    with pytest.raises(MediaDecodeError) as caught:
        data.val_dataloader().dataset[1]
    message = str(caught.value)
    assert "broken.png (manifest row 2, id 'bad')" in message
    assert "set data.on_error: skip" in message
