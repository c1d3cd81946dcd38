"""Every common audio format, channel count and rate decodes to mono at the target rate."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from mmlearn.data.collate import MultimodalCollator
from mmlearn.data.processors import AudioProcessor, LogMelFeatures
from mmlearn.errors import MediaDecodeError


def tone(seconds: float, rate: int, channels: int = 1, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = amplitude * np.sin(2 * math.pi * 440.0 * t)
    return np.stack([wave] * channels, axis=1).astype(np.float32)


@pytest.mark.parametrize(
    ("name", "subtype"),
    [
        ("u8.wav", "PCM_U8"),
        ("s16.wav", "PCM_16"),
        ("s24.wav", "PCM_24"),
        ("f32.wav", "FLOAT"),
        ("clip.flac", "PCM_16"),
        ("clip.ogg", "VORBIS"),
        ("clip.mp3", "MPEG_LAYER_III"),
    ],
)
def test_formats_decode_to_mono_at_target_rate(tmp_path: Path, name: str, subtype: str):
    path = tmp_path / name
    soundfile.write(path, tone(0.5, 22050), 22050, subtype=subtype)
    waveform = AudioProcessor(sample_rate=16000, max_seconds=5.0)(path)
    assert waveform.ndim == 1
    assert waveform.dtype == torch.float32
    # MP3 encoders pad the start and end, so allow some extra samples.
    assert 8000 <= waveform.shape[0] <= 8000 + 2000
    assert waveform.abs().max().item() == pytest.approx(0.5, abs=0.08)


@pytest.mark.parametrize("channels", [1, 2, 6])
def test_channels_mixed_down(tmp_path: Path, channels: int):
    path = tmp_path / f"c{channels}.wav"
    soundfile.write(path, tone(0.25, 16000, channels), 16000, subtype="PCM_16")
    waveform = AudioProcessor(sample_rate=16000)(path)
    assert waveform.shape == (4000,)
    assert waveform.abs().max().item() == pytest.approx(0.5, abs=0.01)


def test_mixed_rates_and_lengths_in_one_batch(tmp_path: Path):
    processor = AudioProcessor(sample_rate=16000, max_seconds=2.0)
    clips = []
    for rate, seconds in [(8000, 0.2), (16000, 1.0), (44100, 30.0), (48000, 0.5)]:
        path = tmp_path / f"{rate}.wav"
        soundfile.write(path, tone(seconds, rate), rate, subtype="PCM_16")
        clips.append(processor(path))
    items = [
        {"id": str(i), "text": None, "image": None, "audio": clip, "targets": {}}
        for i, clip in enumerate(clips)
    ]
    batch = MultimodalCollator(["audio"])(items)
    assert batch["audio"]["lengths"].tolist() == [3200, 16000, 32000, 8000]
    assert batch["audio"]["waveform"].shape == (4, 32000)
    assert batch["audio"]["waveform"][0, 3200:].abs().sum().item() == 0.0
    features, frames = LogMelFeatures(16000, n_mels=16)(
        batch["audio"]["waveform"], batch["audio"]["lengths"]
    )
    assert torch.isfinite(features).all()
    assert frames.tolist() == [21, 101, 201, 51]


def test_silent_and_full_scale_clips_give_finite_features(tmp_path: Path):
    processor = AudioProcessor(sample_rate=16000)
    soundfile.write(tmp_path / "silent.wav", np.zeros(8000, np.float32), 16000, subtype="PCM_16")
    full = np.sign(np.sin(np.arange(8000) / 5.0)).astype(np.float32)
    soundfile.write(tmp_path / "full.wav", full, 16000, subtype="FLOAT")
    silent = processor(tmp_path / "silent.wav")
    loud = processor(tmp_path / "full.wav")
    assert silent.abs().max().item() == 0.0
    assert loud.abs().max().item() == pytest.approx(1.0)
    waveform = torch.stack([silent, loud])
    features, _ = LogMelFeatures(16000, n_mels=16)(waveform, torch.tensor([8000, 8000]))
    assert torch.isfinite(features).all()


@pytest.mark.parametrize("crop", ["start", "center"])
def test_crop_policy_configurable(tmp_path: Path, crop: str):
    ramp = np.linspace(0.0, 1.0, 4000, dtype=np.float32)
    soundfile.write(tmp_path / "ramp.wav", ramp, 1000, subtype="FLOAT")
    waveform = AudioProcessor(sample_rate=1000, max_seconds=1.0, train=True, crop=crop)(
        tmp_path / "ramp.wav"
    )
    start = 0 if crop == "start" else 1500
    assert waveform.shape == (1000,)
    assert waveform[0].item() == pytest.approx(float(ramp[start]))


def test_empty_and_corrupt_files_name_the_file(tmp_path: Path):
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros((0, 1), np.float32), 16000, subtype="PCM_16")
    with pytest.raises(MediaDecodeError, match=r"empty\.wav.*contains no samples"):
        AudioProcessor()(empty)
    zero_bytes = tmp_path / "zero.flac"
    zero_bytes.write_bytes(b"")
    with pytest.raises(MediaDecodeError, match=r"zero\.flac"):
        AudioProcessor()(zero_bytes)


def test_invalid_crop_rejected():
    with pytest.raises(ValueError, match="invalid audio crop 'middle'"):
        AudioProcessor(crop="middle")


def test_log_mel_of_batch_without_audio():
    waveform = torch.zeros(3, 1)
    features, frames = LogMelFeatures(16000, n_mels=8)(waveform, torch.zeros(3, dtype=torch.long))
    assert features.shape[:2] == (3, 8)
    assert torch.isfinite(features).all()
    assert frames.tolist() == [1, 1, 1]
