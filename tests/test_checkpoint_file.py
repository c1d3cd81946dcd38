"""Reading the checkpoint files that --ckpt_path and model.init_from name."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mmlearn.checkpoint_file import check_ckpt_path, read_checkpoint
from mmlearn.errors import ConfigError


def test_read_checkpoint_loads_saved_dict(tmp_path: Path):
    path = tmp_path / "run.ckpt"
    torch.save({"state_dict": {"model.w": torch.arange(3.0)}, "epoch": 4}, path)
    contents = read_checkpoint(path)
    assert contents["epoch"] == 4
    assert contents["state_dict"]["model.w"].tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "model.init_from: checkpoint not found: {path}; give the .ckpt file"),
        (b'{"id": "a"}\n', "model.init_from: {path} is not a checkpoint that torch.save wrote"),
        (b"", "model.init_from: {path} is not a checkpoint that torch.save wrote"),
        (torch.zeros(2), "model.init_from: {path} contains a Tensor, not a checkpoint"),
    ],
    ids=["missing", "text", "empty", "tensor"],
)
def test_read_checkpoint_names_bad_file(tmp_path: Path, content, expected: str):
    path = tmp_path / "weights.ckpt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    with pytest.raises(ConfigError) as caught:
        read_checkpoint(path, "model.init_from")
    assert expected.format(path=path) in str(caught.value)
    assert "weights_only" not in str(caught.value)


@pytest.mark.parametrize("value", [None, "last", "best", "hpc", "registry", "Registry:m:v1"])
def test_check_ckpt_path_skips_lightning_names(value: str | None):
    check_ckpt_path(value)  # would raise ConfigError if it looked for a local file


def test_check_ckpt_path_skips_remote_url():
    check_ckpt_path("s3://bucket/runs/best.ckpt")


def test_check_ckpt_path_rejects_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="ckpt_path: checkpoint not found"):
        check_ckpt_path(str(tmp_path / "bst.ckpt"))
