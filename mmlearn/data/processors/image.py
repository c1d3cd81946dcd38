"""Image decoding and transforms: any PIL-readable file to a normalized (3, H, W) tensor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.transforms import v2

from mmlearn.data.cache import MediaCache
from mmlearn.errors import MediaDecodeError
from mmlearn.modalities import IMAGE

# ImageNet statistics, which torchvision's pretrained backbones expect.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


DEFAULT_MAX_PIXELS = 50_000_000
"""Largest image (width x height) that is decoded; a 50-megapixel RGB image is about
150 MB once decoded. Larger files are rejected before decoding (decompression bombs)."""


def _to_rgb(image: Image.Image) -> Image.Image:
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode.startswith("I") or image.mode == "F":
        # 16-bit, 32-bit and float grayscale: scale to 8 bits, since convert() clips.
        array = np.asarray(image, dtype=np.float32)
        peak = 65535.0 if image.mode.startswith("I;16") else max(float(array.max()), 1.0)
        scaled = np.clip(array / peak * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(scaled, mode="L").convert("RGB")
    return image.convert("RGB")


def load_rgb(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode an image as RGB: EXIF orientation applied, transparency composited on white.

    Raises
    ------
    MediaDecodeError
        If the file is missing, is not an image, is truncated or corrupt, or has more
        than ``max_pixels`` pixels. The message names the file and, once the header
        was read, the image's mode and size.
    """
    try:
        image = Image.open(path)
    except FileNotFoundError:
        raise MediaDecodeError(str(path), IMAGE, "file not found") from None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise MediaDecodeError(str(path), IMAGE, f"not a readable image ({error})") from error

    with image:
        width, height = image.size
        described = f"mode {image.mode}, {width}x{height}"
        if width * height > max_pixels:
            raise MediaDecodeError(
                str(path),
                IMAGE,
                f"{described} has {width * height} pixels, above the limit of {max_pixels}; "
                "shrink the image or raise data.max_image_pixels if you trust the file",
            )
        try:
            return _to_rgb(ImageOps.exif_transpose(image))
        except (OSError, ValueError, SyntaxError) as error:
            raise MediaDecodeError(str(path), IMAGE, f"{described}: {error}") from error


class ImageProcessor:
    """Turn an image file into a float tensor of shape (3, size, size).

    Work happens in two stages. ``decode`` is deterministic: it reads the file as RGB
    and shrinks it, keeping its aspect ratio, until neither side exceeds
    ``2 * size``; with a ``cache`` its result is stored on disk. The transform then
    runs on every call: training adds a random resized crop and a horizontal flip,
    evaluation resizes the whole image to ``size`` x ``size``.
    """

    def __init__(
        self,
        size: int = 96,
        train: bool = False,
        augment: bool = True,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        cache: MediaCache | None = None,
    ):
        self.size = size
        self.max_pixels = max_pixels
        self.cache = cache
        # Two pixels per output pixel keep random crops sharp at a fraction of the size.
        self.decoded_side = 2 * size
        self.settings = f"image v1 side={self.decoded_side} max_pixels={max_pixels}"
        steps: list[v2.Transform] = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
        if train and augment:
            steps += [
                v2.RandomResizedCrop((size, size), scale=(0.7, 1.0), antialias=True),
                v2.RandomHorizontalFlip(),
            ]
        else:
            steps.append(v2.Resize((size, size), antialias=True))
        steps.append(v2.Normalize(IMAGENET_MEAN, IMAGENET_STD))
        self.transform = v2.Compose(steps)

    def decode(self, path: str | Path) -> np.ndarray:
        """Return the image as uint8 (3, H, W) with neither side above ``decoded_side``."""
        image = load_rgb(path, self.max_pixels)
        image.thumbnail((self.decoded_side, self.decoded_side), Image.Resampling.BICUBIC)
        return np.ascontiguousarray(np.asarray(image).transpose(2, 0, 1))

    def __call__(self, path: str | Path) -> torch.Tensor:
        if self.cache is None:
            pixels = self.decode(path)
        else:
            pixels = self.cache.get(path, self.settings, IMAGE, self.decode)
        return self.transform(torch.from_numpy(pixels))
