"""Per-modality processors: decode one file or string into what the collate step stacks."""

from mmlearn.data.processors.audio import AudioProcessor, LogMelFeatures
from mmlearn.data.processors.image import ImageProcessor
from mmlearn.data.processors.text import TextProcessor

__all__ = ["AudioProcessor", "ImageProcessor", "LogMelFeatures", "TextProcessor"]
