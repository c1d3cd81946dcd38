"""mmlearn: fused text, image and audio models trained on several tasks with PyTorch Lightning."""

__version__ = "0.1.0"
