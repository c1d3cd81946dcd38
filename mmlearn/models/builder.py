"""Build a ready MultimodalModel from encoder settings and class counts."""

from __future__ import annotations

from collections.abc import Mapping

from torch import nn

from mmlearn.modalities import AUDIO, IMAGE, TEXT
from mmlearn.models.encoders import (
    AudioEncoderConfig,
    HFTextEncoder,
    ImageEncoderConfig,
    TextEncoderConfig,
    TorchvisionImageEncoder,
    build_audio_encoder,
)
from mmlearn.models.fusion import ConcatFusion
from mmlearn.models.heads import ClassificationHead
from mmlearn.models.multimodal import MultimodalModel


def build_multimodal_model(
    num_classes: Mapping[str, int],
    text_encoder: TextEncoderConfig | None = None,
    image_encoder: ImageEncoderConfig | None = None,
    audio_encoder: AudioEncoderConfig | None = None,
    embed_dim: int = 128,
    fusion_hidden_dim: int = 256,
    fusion_dropout: float = 0.1,
    n_mels: int = 64,
    image_size: int = 96,
    modality_dropout: Mapping[str, float] | None = None,
    unimodal_heads: bool = False,
) -> MultimodalModel:
    """Build encoders for the modalities that have settings, concat fusion and one head per task.

    ``num_classes`` maps each task name to its class count. ``unimodal_heads`` adds a
    head per modality and task on that modality's feature alone.
    """
    encoders: dict[str, nn.Module] = {}
    if text_encoder is not None:
        encoders[TEXT] = HFTextEncoder(text_encoder.model_name_or_path, text_encoder.pooling)
    if image_encoder is not None:
        encoders[IMAGE] = TorchvisionImageEncoder(
            image_encoder.name, image_encoder.weights_path, image_size
        )
    if audio_encoder is not None:
        encoders[AUDIO] = build_audio_encoder(audio_encoder, n_mels)
    if not encoders:
        raise ValueError("set at least one of text_encoder, image_encoder and audio_encoder")
    fusion = ConcatFusion(
        list(encoders), embed_dim, fusion_hidden_dim, fusion_hidden_dim, fusion_dropout
    )
    heads = {
        task: ClassificationHead(fusion.output_dim, count) for task, count in num_classes.items()
    }
    per_modality = None
    if unimodal_heads:
        per_modality = {
            name: {
                task: ClassificationHead(embed_dim, count) for task, count in num_classes.items()
            }
            for name in encoders
        }
    return MultimodalModel(encoders, fusion, heads, embed_dim, modality_dropout, per_modality)
