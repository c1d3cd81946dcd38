from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from PIL import Image

from mmlearn.data.processors import AudioProcessor, ImageProcessor, LogMelFeatures, TextProcessor
from mmlearn.data.processors.image import load_rgb
from mmlearn.errors import ConfigError, MediaDecodeError
from tests.helpers import TEXT_MODEL, write_png, write_tone


def test_transparent_pixels_become_white(tmp_path: Path):
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 255))
    image.putpixel((0, 0), (0, 0, 0, 0))
    image.save(tmp_path / "a.png")
    rgb = load_rgb(tmp_path / "a.png")
    assert rgb.mode == "RGB"
    assert rgb.getpixel((0, 0)) == (255, 255, 255)
    assert rgb.getpixel((1, 1)) == (255, 0, 0)


def test_palette_with_transparency_and_grayscale(tmp_path: Path):
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    palette.info["transparency"] = 0
    palette.putpixel((0, 0), 0)
    palette.save(tmp_path / "p.png", transparency=0)
    rgb = load_rgb(tmp_path / "p.png")
    assert rgb.getpixel((0, 0)) == (255, 255, 255)
    assert rgb.getpixel((2, 2)) == (0, 255, 0)

    Image.new("L", (4, 4), 128).save(tmp_path / "g.png")
    assert load_rgb(tmp_path / "g.png").getpixel((1, 1)) == (128, 128, 128)


def test_sixteen_bit_grayscale_scaled(tmp_path: Path):
    array = np.full((4, 4), 65535, dtype=np.uint16)
    Image.fromarray(array).save(tmp_path / "deep.png")
    assert load_rgb(tmp_path / "deep.png").getpixel((0, 0)) == (255, 255, 255)


def test_exif_orientation_applied(tmp_path: Path):
    image = Image.new("RGB", (6, 2), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    image.save(tmp_path / "r.jpg", exif=exif.tobytes())
    assert load_rgb(tmp_path / "r.jpg").size == (2, 6)


def test_image_processor_shape_and_normalization(tmp_path: Path):
    path = write_png(tmp_path / "w.png", (255, 255, 255, 255), size=30)
    pixels = ImageProcessor(size=16)(path)
    assert pixels.shape == (3, 16, 16)
    assert pixels.dtype == torch.float32
    # White normalized with the ImageNet statistics: (1 - mean) / std per channel.
    assert pixels[0, 0, 0].item() == pytest.approx((1 - 0.485) / 0.229, rel=1e-4)
    assert ImageProcessor(size=16, train=True)(path).shape == (3, 16, 16)


def test_broken_image_names_file(tmp_path: Path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"not a png at all")
    with pytest.raises(MediaDecodeError, match=r"broken\.png"):
        ImageProcessor()(path)


def test_audio_stereo_mixed_down_and_resampled(tmp_path: Path):
    path = write_tone(tmp_path / "s.wav", seconds=1.0, rate=44100, channels=2)
    waveform = AudioProcessor(sample_rate=16000, max_seconds=5.0).load(path)
    assert waveform.ndim == 1
    assert waveform.dtype == torch.float32
    assert waveform.shape[0] == 16000
    assert waveform.abs().max().item() == pytest.approx(0.5, abs=0.02)


def test_audio_crop_centred_in_eval_random_in_train(tmp_path: Path):
    rate = 8000
    ramp = np.linspace(-1, 1, 4 * rate, dtype=np.float32)
    soundfile.write(tmp_path / "ramp.wav", ramp, rate, subtype="FLOAT")
    evaluation = AudioProcessor(sample_rate=rate, max_seconds=1.0)(tmp_path / "ramp.wav")
    assert evaluation.shape[0] == rate
    assert torch.allclose(evaluation, torch.from_numpy(ramp[int(1.5 * rate) : int(2.5 * rate)]))

    torch.manual_seed(0)
    train = AudioProcessor(sample_rate=rate, max_seconds=1.0, train=True)
    starts = {round(float(train(tmp_path / "ramp.wav")[0]), 4) for _ in range(5)}
    assert len(starts) > 1


def test_short_audio_kept_whole(tmp_path: Path):
    path = write_tone(tmp_path / "short.wav", seconds=0.2, rate=16000)
    assert AudioProcessor(16000, 3.0)(path).shape[0] == 3200


def test_corrupt_audio_names_file(tmp_path: Path):
    path = tmp_path / "bad.wav"
    path.write_bytes(b"RIFF1234WAVEjunk")
    with pytest.raises(MediaDecodeError, match=r"audio file .*bad\.wav"):
        AudioProcessor()(path)


def test_log_mel_float32_under_bf16_autocast():
    features = LogMelFeatures(sample_rate=16000, n_mels=32, hop_length=160)
    waveform = torch.randn(2, 16000).to(torch.bfloat16)
    lengths = torch.tensor([16000, 8000])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mel, frames = features(waveform, lengths)
    assert mel.dtype == torch.float32
    assert mel.shape == (2, 32, 101)
    assert frames.tolist() == [101, 51]


def test_tokenizer_pads_and_truncates():
    text = TextProcessor(TEXT_MODEL, max_length=8)
    batch = text(["a frog", "one two three four five six seven eight nine ten"])
    assert batch["input_ids"].shape == (2, 8)
    assert batch["attention_mask"][0].tolist() == [1, 1, 1, 1, 0, 0, 0, 0]
    # Truncation keeps the closing [SEP] token.
    assert batch["input_ids"][1, -1].item() == text.tokenizer.sep_token_id


def test_missing_tokenizer_folder_explains_fix(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"folder not found: .*nowhere. Check the path"):
        TextProcessor(str(tmp_path / "nowhere"))
