"""Fine-tuning from a contrastive pretraining: model.init_from takes the matching weights."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import torch

from mmlearn.cli import run_cli
from tests.helpers import MODEL, rejected_args, write_config

# Image and audio only, so that each fit starts fast.
BASE = {**MODEL, "text_encoder": None}
PRETRAIN = {
    **BASE,
    "tasks": [{"name": "align", "type": "contrastive", "modalities": ["image", "audio"]}],
}
MONITOR_LOSS = {
    "checkpoint__monitor": "val/loss",
    "checkpoint__mode": "min",
    "early_stopping__monitor": "val/loss",
    "early_stopping__mode": "min",
}


def test_fine_tune_from_contrastive_pretraining(tmp_path: Path, make_manifest, caplog):
    manifest = make_manifest(per_split=4)
    (tmp_path / "pre").mkdir()
    config = write_config(tmp_path / "pre", manifest, model=PRETRAIN, **MONITOR_LOSS)
    pre = run_cli(["fit", "--config", str(config)])
    pretrained = tmp_path / "pretrained.ckpt"
    shutil.copy(pre.trainer.checkpoint_callback.best_model_path, pretrained)
    stored = torch.load(pretrained, weights_only=True)["state_dict"]

    (tmp_path / "tune").mkdir()
    frozen_image = {**BASE, "image_encoder": {"name": "resnet18", "freeze": True}}
    config = write_config(tmp_path / "tune", manifest, model=frozen_image)
    with caplog.at_level(logging.INFO):
        tune = run_cli(["fit", "--config", str(config), "--model.init_from", str(pretrained)])
    assert tune.trainer.global_step == 1
    assert f"from {pretrained}; " in caplog.text
    assert "start fresh, in heads.category, heads.subcategory" in caplog.text

    # After fine-tuning, the frozen image encoder keeps the pretrained weights, and
    # the trained audio encoder has moved away from them.
    image = [name for name in stored if name.startswith("model.encoders.image.")]
    audio = [name for name in stored if name.startswith("model.encoders.audio.")]
    assert image and audio
    tuned = dict(tune.model.named_parameters())
    assert set(image) & set(tuned)
    assert set(audio) & set(tuned)
    for name in image:
        if name in tuned:
            torch.testing.assert_close(tuned[name], stored[name])
    assert any(not torch.equal(tuned[name], stored[name]) for name in audio if name in tuned)

    # A later run from the fine-tuned checkpoint does not need the pretraining file.
    pretrained.unlink()
    best = tune.trainer.checkpoint_callback.best_model_path
    test = run_cli(["test", "--config", str(config), "--ckpt_path", best])
    assert "test/category/acc" in test.trainer.callback_metrics


def test_predict_writes_aligned_embeddings(tmp_path: Path, make_manifest):
    config = write_config(tmp_path, make_manifest(per_split=4), model=PRETRAIN, **MONITOR_LOSS)
    pre = run_cli(["fit", "--config", str(config)])
    output = tmp_path / "embeddings.jsonl"
    best = pre.trainer.checkpoint_callback.best_model_path
    flags = ["--data.predict_split", "test", "--prediction_writer.output", str(output)]
    run_cli(["predict", "--config", str(config), "--ckpt_path", best, *flags])

    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert [record["id"] for record in records] == [f"test-{index}" for index in range(4)]
    for record in records:
        assert sorted(record["embedding"]) == ["audio", "image"]
        image = torch.tensor(record["embedding"]["image"])
        assert image.shape == (BASE["embed_dim"],)
        assert float(image.norm()) == pytest.approx(1.0, abs=1e-5)
    # The fixture leaves every fourth sample without audio.
    assert records[3]["embedding"]["audio"] is None
    assert len(records[0]["embedding"]["audio"]) == BASE["embed_dim"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "model.init_from: checkpoint not found"),
        ({"model": "weights"}, "has no state_dict, so mmlearn fit did not write it"),
        ({"state_dict": {"model.other.weight": torch.zeros(2)}}, "no tensor of"),
    ],
    ids=["missing", "not-lightning", "no-match"],
)
def test_init_from_a_wrong_file_names_it(
    tmp_path: Path, make_manifest, capsys, content: dict | None, expected: str
):
    checkpoint = tmp_path / "other.ckpt"
    if content is not None:
        torch.save(content, checkpoint)
    config = write_config(tmp_path, make_manifest(per_split=4), model=BASE)
    flags = ["--model.init_from", str(checkpoint)]
    message = rejected_args(["fit", "--config", str(config), *flags], capsys)
    assert expected in message
    assert str(checkpoint) in message
