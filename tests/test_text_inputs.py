"""Text edge cases: empty, whitespace, very long, non-Latin scripts, missing model files."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mmlearn.data.datamodule import MultimodalDataModule
from mmlearn.data.manifest import read_manifest
from mmlearn.data.processors import TextProcessor
from mmlearn.errors import ConfigError
from tests.helpers import TEXT_MODEL, write_jsonl


@pytest.fixture(scope="module")
def text() -> TextProcessor:
    return TextProcessor(TEXT_MODEL, max_length=16)


def test_empty_and_whitespace_text_is_absent(tmp_path: Path):
    path = write_jsonl(
        tmp_path / "m.jsonl",
        [{"id": "a", "text": ""}, {"id": "b", "text": "  \t "}, {"id": "c", "text": " hi "}],
    )
    samples = read_manifest(path)
    assert samples[0].text is None
    assert samples[1].text is None
    assert samples[2].text == " hi "


def test_long_text_keeps_special_tokens(text: TextProcessor):
    long = " ".join(["word"] * 10_000)
    batch = text([long, "short"])
    ids = batch["input_ids"][0].tolist()
    assert len(ids) == 16
    assert ids[0] == text.tokenizer.cls_token_id
    assert ids[-1] == text.tokenizer.sep_token_id
    assert text.find_truncated([long, "short"]) == [0]


@pytest.mark.parametrize("sample", ["一只青蛙。", "ضفدع", "a frog 🐸🐸", "ｆｒｏｇ"])
def test_non_latin_text_tokenizes(text: TextProcessor, sample: str):
    batch = text([sample])
    ids = batch["input_ids"][0].tolist()
    assert ids[0] == text.tokenizer.cls_token_id
    assert sum(batch["attention_mask"][0].tolist()) >= 3


def test_one_warning_counts_truncated_texts(make_manifest, tmp_path: Path, caplog):
    path = make_manifest(per_split=4)
    lines = path.read_text().splitlines()
    lines[0] = lines[0].replace("a warm red thing", " ".join(["warm"] * 100))
    lines[1] = lines[1].replace("a cold blue thing", " ".join(["cold"] * 100))
    path.write_text("\n".join(lines) + "\n")
    data = MultimodalDataModule(
        str(path), labels=["category"], tokenizer=TEXT_MODEL, max_text_length=16
    )
    with caplog.at_level(logging.WARNING, logger="mmlearn.data.datamodule"):
        data.setup("fit")
        data.setup("fit")
    warnings = [r.getMessage() for r in caplog.records if "truncated" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].startswith("2 of 4 texts in the train split exceed")
    assert "train-0, train-1" in warnings[0]


def test_offline_hub_name_explains_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError) as caught:
        TextProcessor("example-org/model-that-is-not-here")
    message = str(caught.value)
    assert "example-org/model-that-is-not-here" in message
    assert "HF_HUB_OFFLINE=1 is set, so nothing is downloaded" in message
    assert "huggingface-cli download example-org/model-that-is-not-here" in message
