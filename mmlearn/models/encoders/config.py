"""Encoder settings as plain dataclasses, so configs and checkpoints hold no modules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass
class TextEncoderConfig:
    """A Hugging Face text model.

    Attributes
    ----------
    model_name_or_path:
        A Hub name or a local folder.
    pooling:
        ``cls``, ``mean`` over non-padding tokens, or ``attention`` (a learned score
        per token, softmaxed over non-padding tokens).
    gradient_checkpointing:
        Recompute activations in the backward pass, trading about a third more compute
        for much less memory on long texts.
    lr:
        This encoder's learning rate, in place of the optimizer's.
    freeze:
        Keep the weights fixed. A frozen encoder still applies its dropout in
        training mode.
    """

    model_name_or_path: str = "sentence-transformers/all-MiniLM-L6-v2"
    pooling: Literal["cls", "mean", "attention"] = "mean"
    gradient_checkpointing: bool = False
    lr: float | None = None
    freeze: bool = False


@dataclass
class ImageEncoderConfig:
    """A torchvision classification backbone with its classifier removed.

    Attributes
    ----------
    name:
        Any name that ``torchvision.models.get_model`` accepts.
    weights_path:
        A local state-dict file; without one the backbone starts from random weights.
    frozen_batch_norm:
        Fix every batch-norm layer's statistics and affine parameters, which keeps
        pretrained statistics intact when batches are small.
    lr:
        This encoder's learning rate, in place of the optimizer's.
    freeze:
        Keep the weights fixed.
    """

    name: str = "resnet18"
    weights_path: str | None = None
    frozen_batch_norm: bool = False
    lr: float | None = None
    freeze: bool = False


@dataclass
class AudioEncoderConfig:
    """An audio encoder: over log-mel features, or a transformers model over waveforms.

    Attributes
    ----------
    kind:
        ``cnn`` (a small CNN), ``gru`` or ``lstm`` (bidirectional, over frames), all
        over log-mel features, or ``transformers``: a wav2vec2-style model from
        ``model_name_or_path`` over the 16 kHz waveform.
    model_name_or_path:
        With ``kind: transformers``, a local folder or Hub name.
    channels:
        The CNN's widths per block.
    hidden_size:
        The recurrent encoders' hidden width per direction.
    num_layers:
        The number of recurrent layers.
    dropout:
        Dropout on the CNN's output, or between the recurrent layers when there are
        two or more; the transformers models keep their own.
    lr:
        This encoder's learning rate, in place of the optimizer's.
    freeze:
        Keep the weights fixed.
    """

    kind: Literal["cnn", "gru", "lstm", "transformers"] = "cnn"
    model_name_or_path: str | None = None
    channels: tuple[int, ...] = (32, 64, 128)
    hidden_size: int = 128
    num_layers: int = 2
    dropout: float = 0.1
    lr: float | None = None
    freeze: bool = False
