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
from mmlearn.models.fusion import (
    AttentionFusion,
    ConcatFusion,
    FusionConfig,
    GatedFusion,
    LateFusion,
    LowRankTensorFusion,
    PooledFusion,
)
from mmlearn.models.heads import LinearHead
from mmlearn.models.multimodal import MultimodalModel


def build_fusion(
    config: FusionConfig, modalities: list[str], dim: int, head_sizes: Mapping[str, int]
) -> nn.Module:
    """Build the fusion strategy that ``config.kind`` names over ``modalities``."""
    hidden, dropout = config.hidden_dim, config.dropout
    if config.kind == "concat":
        return ConcatFusion(modalities, dim, hidden, hidden, dropout)
    if config.kind in ("mean", "sum"):
        return PooledFusion(modalities, dim, hidden, hidden, dropout, reduction=config.kind)
    if config.kind == "gated":
        return GatedFusion(modalities, dim, hidden, hidden, dropout)
    if config.kind == "attention":
        return AttentionFusion(
            modalities, dim, hidden, hidden, dropout, config.num_heads, config.num_layers
        )
    if config.kind == "low_rank":
        return LowRankTensorFusion(modalities, dim, hidden, dropout, config.rank)
    if config.kind == "late":
        return LateFusion(modalities, dim, head_sizes, dropout, config.late_weights)
    raise ValueError(
        f"invalid fusion kind {config.kind!r}; use concat, mean, sum, gated, attention, "
        "low_rank or late"
    )


def build_multimodal_model(
    head_sizes: Mapping[str, int],
    text_encoder: TextEncoderConfig | None = None,
    image_encoder: ImageEncoderConfig | None = None,
    audio_encoder: AudioEncoderConfig | None = None,
    embed_dim: int = 128,
    fusion: FusionConfig | None = None,
    n_mels: int = 64,
    image_size: int = 96,
    modality_dropout: Mapping[str, float] | None = None,
    unimodal_heads: bool = False,
) -> MultimodalModel:
    """Build encoders for the modalities that have settings, the fusion and one head per task.

    ``head_sizes`` maps each task that needs a head to its output width.
    ``unimodal_heads`` adds a head per modality and task on that modality's feature
    alone. Late fusion has its
    own heads per modality, so the model gets no heads on the fused vector.
    """
    encoders: dict[str, nn.Module] = {}
    if text_encoder is not None:
        encoders[TEXT] = HFTextEncoder(
            text_encoder.model_name_or_path,
            text_encoder.pooling,
            text_encoder.gradient_checkpointing,
        )
    if image_encoder is not None:
        encoders[IMAGE] = TorchvisionImageEncoder(
            image_encoder.name,
            image_encoder.weights_path,
            image_size,
            image_encoder.frozen_batch_norm,
        )
    if audio_encoder is not None:
        encoders[AUDIO] = build_audio_encoder(audio_encoder, n_mels)
    if not encoders:
        raise ValueError("set at least one of text_encoder, image_encoder and audio_encoder")
    fusion_module = build_fusion(fusion or FusionConfig(), list(encoders), embed_dim, head_sizes)
    heads = {}
    if not isinstance(fusion_module, LateFusion):
        heads = {
            task: LinearHead(fusion_module.output_dim, size) for task, size in head_sizes.items()
        }
    per_modality = None
    if unimodal_heads:
        per_modality = {
            name: {task: LinearHead(embed_dim, size) for task, size in head_sizes.items()}
            for name in encoders
        }
    return MultimodalModel(
        encoders, fusion_module, heads, embed_dim, modality_dropout, per_modality
    )
