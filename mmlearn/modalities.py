"""The modality names and a registry, so new modalities plug in under one name."""

from __future__ import annotations

import difflib

from mmlearn.errors import ConfigError

TEXT = "text"
IMAGE = "image"
AUDIO = "audio"

_REGISTRY: list[str] = [TEXT, IMAGE, AUDIO]


def register_modality(name: str) -> str:
    """Register a new modality name and return it; registering an existing name is a no-op."""
    if not name.isidentifier():
        raise ConfigError(
            f"invalid modality name {name!r}: use a Python identifier such as 'video'"
        )
    if name not in _REGISTRY:
        _REGISTRY.append(name)
    return name


def list_modalities() -> list[str]:
    """Return the registered modality names in registration order."""
    return list(_REGISTRY)


def check_modality(name: str) -> str:
    """Return ``name`` if it is registered, else raise with the closest registered name."""
    if name in _REGISTRY:
        return name
    close = difflib.get_close_matches(name, _REGISTRY, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ConfigError(
        f"unknown modality {name!r}; registered modalities are {_REGISTRY}.{hint} "
        "Call mmlearn.modalities.register_modality to add one."
    )
