"""Image decoding and transforms: any PIL-readable file to a normalized (3, H, W) tensor."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.transforms import v2

from mmlearn.errors import MediaDecodeError
from mmlearn.modalities import IMAGE

# ImageNet statistics, which torchvision's pretrained backbones expect.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_rgb(path: str | Path) -> Image.Image:
    """Decode an image as RGB: EXIF orientation applied, transparency composited on white."""
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            has_alpha = image.mode in ("RGBA", "LA", "PA") or (
                image.mode == "P" and "transparency" in image.info
            )
            if has_alpha:
                rgba = image.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                return Image.alpha_composite(background, rgba).convert("RGB")
            if image.mode == "I;16" or image.mode == "I":
                # 16-bit and 32-bit integer grayscale: scale to 8 bits before conversion.
                array = torch.from_numpy(np.asarray(image, dtype=np.float32))
                peak = 65535.0 if image.mode == "I;16" else max(float(array.max()), 1.0)
                scaled = (array / peak * 255.0).clamp(0, 255).to(torch.uint8).numpy()
                return Image.fromarray(scaled, mode="L").convert("RGB")
            return image.convert("RGB")
    except FileNotFoundError:
        raise MediaDecodeError(str(path), IMAGE, "file not found") from None
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise MediaDecodeError(str(path), IMAGE, str(error)) from error


class ImageProcessor:
    """Turn an image file into a float tensor of shape (3, size, size).

    Training adds a random resized crop and a horizontal flip; evaluation resizes the
    whole image to ``size`` x ``size``.
    """

    def __init__(self, size: int = 96, train: bool = False, augment: bool = True):
        self.size = size
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

    def __call__(self, path: str | Path) -> torch.Tensor:
        return self.transform(load_rgb(path))
