from __future__ import annotations

import torch

from mmlearn.data.collate import MultimodalCollator
from mmlearn.data.processors import TextProcessor
from tests.helpers import TEXT_MODEL


def _item(sample_id, text=None, image=None, audio=None, category=0):
    return {
        "id": sample_id,
        "text": text,
        "image": image,
        "audio": audio,
        "targets": {"category": category},
    }


def test_batch_contract_with_absent_modalities():
    collate = MultimodalCollator(
        ["text", "image", "audio"], TextProcessor(TEXT_MODEL), image_size=8
    )
    items = [
        _item("a", text="a frog", image=torch.ones(3, 8, 8), audio=torch.ones(5), category=2),
        _item("b", text=None, image=None, audio=torch.full((3,), 2.0), category=-1),
        _item("c", text="a cat sat", image=torch.ones(3, 8, 8), audio=None, category=0),
    ]
    batch = collate(items)

    assert batch["ids"] == ["a", "b", "c"]
    assert batch["present"]["text"].tolist() == [True, False, True]
    assert batch["present"]["image"].tolist() == [True, False, True]
    assert batch["present"]["audio"].tolist() == [True, True, False]
    assert batch["text"]["input_ids"].shape[0] == 3
    assert batch["text"]["attention_mask"].shape == batch["text"]["input_ids"].shape
    assert batch["image"]["pixels"].shape == (3, 3, 8, 8)
    assert batch["image"]["pixels"][1].abs().sum().item() == 0.0
    assert batch["audio"]["waveform"].shape == (3, 5)
    assert batch["audio"]["lengths"].tolist() == [5, 3, 0]
    assert batch["audio"]["waveform"][1].tolist() == [2.0, 2.0, 2.0, 0.0, 0.0]
    assert batch["targets"]["category"].tolist() == [2, -1, 0]
    assert batch["targets"]["category"].dtype == torch.long


def test_only_requested_modalities_collated():
    collate = MultimodalCollator(["image"], image_size=4)
    batch = collate([_item("a", image=torch.zeros(3, 4, 4))])
    assert set(batch["present"]) == {"image"}
    assert "text" not in batch
    assert "audio" not in batch
