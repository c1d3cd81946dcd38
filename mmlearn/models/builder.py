"""Build a ready MultimodalModel from encoder settings and class counts."""

from __future__ import annotations

from collections.abc import Mapping

from torch import nn

from mmlearn.errors import ConfigError
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
    CrossAttentionFusion,
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
    # The arguments that the MLP-based and the attention-based strategies share.
    mlp_args = (modalities, dim, hidden, hidden, dropout)
    attention_args = (*mlp_args, config.num_heads, config.num_layers)
    if config.kind == "concat":
        return ConcatFusion(*mlp_args)
    if config.kind in ("mean", "sum"):
        return PooledFusion(*mlp_args, reduction=config.kind)
    if config.kind == "gated":
        return GatedFusion(*mlp_args)
    if config.kind == "attention":
        return AttentionFusion(*attention_args, tokens=config.tokens)
    if config.kind == "cross_attention":
        return CrossAttentionFusion(*attention_args, query_modality=config.query_modality)
    if config.kind == "low_rank":
        return LowRankTensorFusion(modalities, dim, hidden, dropout, config.rank)
    if config.kind == "late":
        return LateFusion(modalities, dim, head_sizes, dropout, config.late_weights)
    raise ValueError(
        f"invalid fusion kind {config.kind!r}; use concat, mean, sum, gated, attention, "
        "cross_attention, low_rank or late"
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
    fusion = fusion or FusionConfig()
    image = encoders.get(IMAGE)
    if fusion.uses_tokens and isinstance(image, TorchvisionImageEncoder) and not image.has_tokens:
        raise ConfigError(
            f"fusion kind {fusion.kind!r} reads image tokens, but image backbone "
            f"{image_encoder.name!r} has no avgpool layer to take them from; use a CNN "
            "backbone such as resnet18"
        )
    fusion_module = build_fusion(fusion, list(encoders), embed_dim, head_sizes)
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
