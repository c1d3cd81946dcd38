"""Encoder settings as plain dataclasses, so configs and checkpoints hold no modules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class TextEncoderConfig:
    """A Hugging Face text model.

    ``model_name_or_path`` is a Hub name or a local folder. ``pooling`` is ``cls`` or
    ``mean`` over non-padding tokens. ``lr`` overrides the optimizer's learning rate for
    this encoder, and ``freeze`` keeps its weights fixed. A frozen encoder still
    applies its dropout in training mode.
    """

    model_name_or_path: str = "sentence-transformers/all-MiniLM-L6-v2"
    pooling: Literal["cls", "mean"] = "mean"
    lr: float | None = None
    freeze: bool = False


@dataclass
class ImageEncoderConfig:
    """A torchvision classification backbone with its classifier removed.

    ``name`` is any name that ``torchvision.models.get_model`` accepts. ``weights_path``
    is a local state-dict file; without one the backbone starts from random weights.
    """

    name: str = "resnet18"
    weights_path: str | None = None
    lr: float | None = None
    freeze: bool = False


@dataclass
class AudioEncoderConfig:
    """An encoder over log-mel features: a small CNN, or a GRU or LSTM over frames.

    ``channels`` are the CNN's widths per block; ``hidden_size`` and ``num_layers``
    configure the recurrent variants, which are bidirectional.
    """

    kind: Literal["cnn", "gru", "lstm"] = "cnn"
    channels: tuple[int, ...] = (32, 64, 128)
    hidden_size: int = 128
    num_layers: int = 2
    dropout: float = 0.1
    lr: float | None = None
    freeze: bool = False
