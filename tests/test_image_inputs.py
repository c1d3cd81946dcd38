"""Every common image format and mode decodes to 3 x H x W, or the error names the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mmlearn.data.processors import ImageProcessor
from mmlearn.data.processors.image import load_rgb
from mmlearn.errors import MediaDecodeError


def save(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("gray.png", lambda: Image.new("L", (20, 10), 90)),
        ("bilevel.png", lambda: Image.new("1", (20, 10), 1)),
        ("deep.png", lambda: Image.fromarray(np.full((10, 20), 30000, dtype=np.uint16))),
        ("rgba.png", lambda: Image.new("RGBA", (20, 10), (10, 20, 30, 128))),
        ("cmyk.jpg", lambda: Image.new("CMYK", (20, 10), (0, 255, 255, 0))),
        ("photo.webp", lambda: Image.new("RGB", (20, 10), (0, 128, 255))),
        ("la.png", lambda: Image.new("LA", (20, 10), (50, 200))),
    ],
)
def test_formats_decode_to_three_channels(tmp_path: Path, name: str, make):
    path = save(make(), tmp_path / name)
    pixels = ImageProcessor(size=12)(path)
    assert pixels.shape == (3, 12, 12)


def test_cmyk_red_stays_red(tmp_path: Path):
    path = save(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), tmp_path / "red.jpg")
    red, green, blue = load_rgb(path).getpixel((4, 4))
    assert red > 200
    assert green < 60
    assert blue < 60


def test_half_transparent_blends_with_white(tmp_path: Path):
    path = save(Image.new("RGBA", (4, 4), (0, 0, 0, 128)), tmp_path / "half.png")
    value = load_rgb(path).getpixel((1, 1))
    assert all(120 <= channel <= 135 for channel in value)


def test_wrong_extension_decodes_by_content(tmp_path: Path):
    path = save(Image.new("RGB", (6, 6), (0, 255, 0)), tmp_path / "really_png.jpg", format="PNG")
    assert load_rgb(path).getpixel((2, 2)) == (0, 255, 0)


def test_truncated_file_names_file_mode_and_size(tmp_path: Path):
    full = save(Image.effect_noise((64, 64), 50).convert("RGB"), tmp_path / "full.png")
    cut = tmp_path / "cut.png"
    cut.write_bytes(full.read_bytes()[:400])
    with pytest.raises(MediaDecodeError) as caught:
        load_rgb(cut)
    message = str(caught.value)
    assert "cut.png" in message
    assert "mode RGB, 64x64" in message


def test_too_many_pixels_rejected_before_decoding(tmp_path: Path):
    path = save(Image.new("L", (300, 200), 0), tmp_path / "big.png")
    with pytest.raises(MediaDecodeError) as caught:
        ImageProcessor(size=8, max_pixels=50_000)(path)
    message = str(caught.value)
    assert "big.png" in message
    assert "mode L, 300x200 has 60000 pixels, above the limit of 50000" in message
    assert "data.max_image_pixels" in message


def test_text_file_is_not_an_image(tmp_path: Path):
    path = tmp_path / "notes.png"
    path.write_text("hello", encoding="utf-8")
    with pytest.raises(MediaDecodeError, match=r"notes\.png.*not a readable image"):
        load_rgb(path)


def test_empty_file_is_not_an_image(tmp_path: Path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(MediaDecodeError, match=r"empty\.jpg"):
        load_rgb(path)
