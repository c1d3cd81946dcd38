"""Read the checkpoint files that ``--ckpt_path`` and ``model.init_from`` name."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from mmlearn.errors import ConfigError

# Values of --ckpt_path that Lightning resolves itself rather than reading a file.
LIGHTNING_CKPT_NAMES = ("best", "last", "hpc")
GIVE_A_CHECKPOINT = (
    "give the .ckpt file of an earlier mmlearn fit, such as runs/<name>/checkpoints/best.ckpt"
)


def read_checkpoint(checkpoint: str | Path, setting: str = "ckpt_path") -> dict[str, Any]:
    """Return the contents of ``checkpoint``, memory-mapped so the weights are not read.

    Raises
    ------
    ConfigError
        Naming ``setting`` and the file, if the file is missing or is not a checkpoint.
    """
    path = Path(checkpoint)
    if not path.is_file():
        raise ConfigError(f"{setting}: checkpoint not found: {path}; {GIVE_A_CHECKPOINT}")
    try:
        contents = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError) as error:
        # torch's own message suggests weights_only=False, which would run any code
        # stored in the file.
        raise ConfigError(
            f"{setting}: {path} is not a checkpoint that torch.save wrote; {GIVE_A_CHECKPOINT}"
        ) from error
    if not isinstance(contents, dict):
        raise ConfigError(
            f"{setting}: {path} contains a {type(contents).__name__}, not a checkpoint; "
            f"{GIVE_A_CHECKPOINT}"
        )
    return contents


def check_ckpt_path(ckpt_path: str | None) -> None:
    """Fail early, naming the file, if ``--ckpt_path`` is a local path to no checkpoint.

    Lightning's named values (``last``, ``best``, ...) and remote URLs are left to
    Lightning.
    """
    if ckpt_path is None or ckpt_path in LIGHTNING_CKPT_NAMES:
        return
    registry = ckpt_path.lower() == "registry" or ckpt_path.lower().startswith("registry:")
    if registry or "://" in ckpt_path:
        return
    read_checkpoint(ckpt_path)
