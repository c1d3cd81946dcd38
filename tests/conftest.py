"""Shared fixtures: small real media files and manifests written in a temporary folder."""

from __future__ import annotations

import os

# The tests load models from local folders only; this keeps any slip from reaching a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import write_jsonl, write_png, write_tone


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    """A folder with two pictures and two tones that manifests can point to."""
    folder = tmp_path / "media"
    folder.mkdir()
    write_png(folder / "red.png", (220, 20, 20, 255))
    write_png(folder / "blue.png", (20, 20, 220, 255))
    write_tone(folder / "low.wav", frequency=220.0)
    write_tone(folder / "high.wav", frequency=880.0, channels=2, rate=44100)
    return folder


@pytest.fixture
def make_manifest(tmp_path: Path, media_dir: Path) -> Callable[..., Path]:
    """Write a manifest of ``per_split`` samples per split with two label columns.

    Red pictures with low tones are class ``warm``; blue with high tones are ``cold``.
    Every fourth sample lacks audio and every fifth lacks a subcategory label.
    """

    def make(per_split: int = 8, name: str = "manifest.jsonl") -> Path:
        rows = []
        for split in ("train", "val", "test"):
            for index in range(per_split):
                warm = index % 2 == 0
                audio = "media/low.wav" if warm else "media/high.wav"
                subcategory = "a" if index % 3 else "b"
                rows.append(
                    {
                        "id": f"{split}-{index}",
                        "text": "a warm red thing" if warm else "a cold blue thing",
                        "image": "media/red.png" if warm else "media/blue.png",
                        "audio": None if index % 4 == 3 else audio,
                        "category": "warm" if warm else "cold",
                        "subcategory": "" if index % 5 == 4 else subcategory,
                        "split": split,
                    }
                )
        return write_jsonl(tmp_path / name, rows)

    return make
