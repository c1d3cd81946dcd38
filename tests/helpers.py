"""Helpers that write small real media files and manifests for the tests."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
from PIL import Image

TEXT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
TUXPAINT_ROOT = Path("/usr/share/tuxpaint/stamps")


def write_png(path: Path, color: tuple[int, ...] = (200, 30, 30, 255), size: int = 40) -> Path:
    """Write a square PNG of one color; four values give an RGBA image."""
    mode = "RGBA" if len(color) == 4 else "RGB"
    Image.new(mode, (size, size), color).save(path)
    return path


def write_tone(
    path: Path, seconds: float = 0.5, rate: int = 22050, channels: int = 1, frequency: float = 440.0
) -> Path:
    """Write a sine tone as 16-bit PCM; the format follows the file extension."""
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.5 * np.sin(2 * math.pi * frequency * t)
    data = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    subtype = "VORBIS" if path.suffix == ".ogg" else "PCM_16"
    soundfile.write(path, data.astype(np.float32), rate, subtype=subtype)
    return path


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path
