from __future__ import annotations

import pytest

from mmlearn import modalities
from mmlearn.errors import ConfigError
from mmlearn.modalities import check_modality, list_modalities, register_modality


def test_unknown_modality_suggests_closest():
    with pytest.raises(ConfigError, match=r"unknown modality 'imgae'.*Did you mean 'image'\?"):
        check_modality("imgae")


def test_register_new_modality(monkeypatch):
    # A private copy of the registry keeps "video" out of the other tests.
    monkeypatch.setattr(modalities, "_REGISTRY", list(modalities._REGISTRY))
    assert register_modality("video") == "video"
    assert check_modality("video") == "video"
    assert list_modalities()[:3] == ["text", "image", "audio"]
    assert list_modalities().count("video") == 1
    register_modality("video")
    assert list_modalities().count("video") == 1
    with pytest.raises(ConfigError, match="invalid modality name 'two words'"):
        register_modality("two words")
