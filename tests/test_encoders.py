"""Encoder options: text pooling and checkpointing, frozen batch norm, transformers audio."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision.ops import FrozenBatchNorm2d
from transformers import Wav2Vec2Config, Wav2Vec2Model

from mmlearn.data.processors import TextProcessor
from mmlearn.errors import ConfigError
from mmlearn.models.builder import build_multimodal_model
from mmlearn.models.encoders import (
    AudioEncoderConfig,
    HFAudioEncoder,
    HFTextEncoder,
    TorchvisionImageEncoder,
)
from tests.helpers import TEXT_MODEL


@pytest.fixture(scope="module")
def tokens():
    tokenize = TextProcessor(TEXT_MODEL, max_length=16)
    short = tokenize(["a red bus"])
    # The same text in a batch with a longer one, so it gets padding.
    padded = tokenize(["a red bus", "a very long caption about a small green frog"])
    return short, padded


def test_attention_pooling_ignores_padding(tokens):
    torch.manual_seed(0)
    encoder = HFTextEncoder(TEXT_MODEL, pooling="attention").eval()
    short, padded = tokens
    assert padded["attention_mask"][0].sum() < padded["attention_mask"].shape[1]
    with torch.no_grad():
        alone = encoder(short["input_ids"], short["attention_mask"])
        batched = encoder(padded["input_ids"], padded["attention_mask"])
    assert alone.shape == (1, 384)
    torch.testing.assert_close(alone[0], batched[0], atol=1e-5, rtol=1e-5)
    # The pooling has its own trainable scores, which receive gradients.
    encoder.train()
    encoder(short["input_ids"], short["attention_mask"]).sum().backward()
    assert encoder.score.weight.grad is not None


@pytest.mark.parametrize("pooling", ["cls", "mean", "attention"])
def test_text_encoder_has_no_unused_parameters(tokens, pooling: str):
    # Plain DDP rejects a parameter that gets no gradient, such as BERT's pooler head.
    encoder = HFTextEncoder(TEXT_MODEL, pooling=pooling).train()
    short, _ = tokens
    encoder(short["input_ids"], short["attention_mask"]).sum().backward()
    unused = [name for name, p in encoder.named_parameters() if p.grad is None]
    assert unused == []
    assert encoder.model.pooler is None


def test_gradient_checkpointing_gives_the_same_gradients(tokens):
    short, _ = tokens
    gradients = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        encoder = HFTextEncoder(TEXT_MODEL, gradient_checkpointing=checkpointing).train()
        for module in encoder.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        active = getattr(encoder.model, "is_activation_checkpointing", None)
        if active is None:  # transformers before 5
            active = encoder.model.is_gradient_checkpointing
        assert active == checkpointing
        encoder(short["input_ids"], short["attention_mask"]).pow(2).sum().backward()
        gradients.append(encoder.model.embeddings.word_embeddings.weight.grad.clone())
    torch.testing.assert_close(gradients[0], gradients[1], atol=1e-5, rtol=1e-4)


def test_frozen_batch_norm_keeps_statistics():
    encoder = TorchvisionImageEncoder("resnet18", image_size=32, frozen_batch_norm=True)
    norms = [m for m in encoder.modules() if isinstance(m, FrozenBatchNorm2d)]
    assert len(norms) == 20  # every batch-norm layer of a ResNet-18
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in encoder.modules())
    before = norms[0].running_mean.clone()
    pixels = torch.randn(4, 3, 32, 32) * 3 + 1
    train_output = encoder.train()(pixels)
    assert torch.equal(norms[0].running_mean, before)
    # With fixed statistics, training and evaluation mode compute the same thing.
    torch.testing.assert_close(train_output, encoder.eval()(pixels))


def tiny_wav2vec2(folder: Path) -> Path:
    """Save a small random wav2vec2 model with layer norm in its feature encoder."""
    torch.manual_seed(0)
    config = Wav2Vec2Config(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=24,
        conv_dim=(8, 8),
        conv_kernel=(10, 3),
        conv_stride=(5, 2),
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        vocab_size=8,
    )
    Wav2Vec2Model(config).save_pretrained(folder)
    return folder


def test_transformers_audio_encoder_from_local_folder(tmp_path: Path):
    folder = tiny_wav2vec2(tmp_path / "wav2vec2")
    encoder = HFAudioEncoder(str(folder)).eval()
    assert encoder.output_dim == 16
    torch.manual_seed(1)
    clip = torch.randn(1, 1600)
    padded = torch.cat([torch.cat([clip, torch.zeros(1, 800)], dim=1), torch.randn(1, 2400)])
    with torch.no_grad():
        alone = encoder(clip, torch.tensor([1600]))
        batched = encoder(padded, torch.tensor([1600, 2400]))
        louder = encoder(clip * 10, torch.tensor([1600]))
    assert batched.shape == (2, 16)
    torch.testing.assert_close(alone[0], batched[0], atol=1e-4, rtol=1e-4)
    # Each clip is normalized, so its loudness does not matter.
    torch.testing.assert_close(alone, louder, atol=1e-4, rtol=1e-4)


def test_transformers_audio_encoder_in_the_model(tmp_path: Path):
    folder = tiny_wav2vec2(tmp_path / "wav2vec2")
    model = build_multimodal_model(
        {"category": 3},
        audio_encoder=AudioEncoderConfig("transformers", model_name_or_path=str(folder)),
        embed_dim=8,
    )
    batch = {
        "present": {"audio": torch.tensor([True, False, True])},
        # No log-mel features: this encoder reads the waveform.
        "audio": {"waveform": torch.randn(3, 2000), "lengths": torch.tensor([2000, 0, 1200])},
    }
    outputs = model(batch)
    assert outputs["logits"]["category"].shape == (3, 3)
    outputs["logits"]["category"].sum().backward()
    assert model.encoders["audio"].model.feature_projection.projection.weight.grad is not None
    with pytest.raises(ConfigError, match=r"needs audio_encoder\.model_name_or_path"):
        build_multimodal_model({"c": 2}, audio_encoder=AudioEncoderConfig("transformers"))
