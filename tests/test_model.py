from __future__ import annotations

import pytest
import torch
import torchvision

from mmlearn.errors import ConfigError
from mmlearn.models.builder import build_multimodal_model
from mmlearn.models.encoders import (
    AudioCNNEncoder,
    AudioEncoderConfig,
    AudioRNNEncoder,
    ImageEncoderConfig,
    TextEncoderConfig,
    TorchvisionImageEncoder,
)
from mmlearn.models.fusion import FusionConfig
from mmlearn.models.modality_dropout import ModalityDropout
from tests.helpers import TEXT_MODEL


def _batch(batch_size=4, frames=40, n_mels=16, image_size=32):
    torch.manual_seed(0)
    return {
        "ids": [str(i) for i in range(batch_size)],
        "present": {
            "text": torch.tensor([True] * batch_size),
            "image": torch.tensor([True, False] + [True] * (batch_size - 2)),
            "audio": torch.tensor([True] * (batch_size - 1) + [False]),
        },
        "text": {
            "input_ids": torch.randint(1000, 2000, (batch_size, 6)),
            "attention_mask": torch.ones(batch_size, 6, dtype=torch.long),
        },
        "image": {"pixels": torch.randn(batch_size, 3, image_size, image_size)},
        "audio": {
            "features": torch.randn(batch_size, n_mels, frames),
            "frame_lengths": torch.tensor([frames, frames // 2] + [frames] * (batch_size - 2)),
        },
    }


def test_fused_forward_backward_shapes():
    model = build_multimodal_model(
        {"category": 5, "subcategory": 3},
        TextEncoderConfig(TEXT_MODEL),
        ImageEncoderConfig("resnet18"),
        AudioEncoderConfig("cnn", channels=(8, 16)),
        embed_dim=32,
        fusion=FusionConfig(hidden_dim=64),
        n_mels=16,
        image_size=32,
    )
    outputs = model(_batch())
    assert outputs["logits"]["category"].shape == (4, 5)
    assert outputs["logits"]["subcategory"].shape == (4, 3)
    assert outputs["fused"].shape == (4, 64)
    assert set(outputs["features"]) == {"text", "image", "audio"}

    loss = outputs["logits"]["category"].logsumexp(-1).mean()
    loss.backward()
    for name in ("text", "image", "audio"):
        grads = [p.grad for p in model.encoders[name].parameters() if p.requires_grad]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), name


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_rnn_audio_encoder_ignores_padding(kind):
    encoder = AudioRNNEncoder(n_mels=8, kind=kind, hidden_size=6, num_layers=1).eval()
    clip = torch.randn(1, 8, 10)
    padded = torch.cat([clip, torch.randn(1, 8, 15)], dim=-1)
    short = encoder(clip, torch.tensor([10]))
    long = encoder(padded, torch.tensor([10]))
    assert short.shape == (1, 12)
    assert torch.allclose(short, long, atol=1e-6)


def test_cnn_audio_encoder_output_width():
    encoder = AudioCNNEncoder(n_mels=16, channels=(4, 8)).eval()
    out = encoder(torch.randn(3, 16, 32), torch.tensor([32, 10, 1]))
    assert out.shape == (3, 8)
    assert torch.isfinite(out).all()


def test_image_encoder_local_weights_and_errors(tmp_path):
    source = TorchvisionImageEncoder("resnet18", image_size=32)
    reference = torchvision.models.resnet18()
    torch.save(reference.state_dict(), tmp_path / "r18.pt")
    loaded = TorchvisionImageEncoder("resnet18", str(tmp_path / "r18.pt"), image_size=32)
    assert loaded.output_dim == 512
    assert torch.equal(loaded.backbone.conv1.weight, reference.conv1.weight)
    assert not torch.equal(source.backbone.conv1.weight, reference.conv1.weight)

    with pytest.raises(ConfigError, match="unknown torchvision backbone 'resnet17'"):
        TorchvisionImageEncoder("resnet17")
    with pytest.raises(ConfigError, match="weights file not found"):
        TorchvisionImageEncoder("resnet18", str(tmp_path / "none.pt"))


def test_modality_dropout_keeps_one_modality():
    dropout = ModalityDropout({"text": 0.9, "image": 0.9})
    present = {
        "text": torch.ones(2000, dtype=torch.bool),
        "image": torch.ones(2000, dtype=torch.bool),
    }
    torch.manual_seed(0)
    after_dropout = dropout(present)
    either = after_dropout["text"] | after_dropout["image"]
    assert either.all()
    # Both dropped (0.81) gives the sample back both; one dropped stays dropped (2 * 0.09).
    dropped_text = 1 - after_dropout["text"].float().mean().item()
    assert 0.05 < dropped_text < 0.13

    dropout.eval()
    assert dropout(present)["text"].all()


def test_modality_dropout_rejects_bad_probability():
    with pytest.raises(ConfigError, match=r"invalid modality dropout 1\.0 for 'text'"):
        ModalityDropout({"text": 1.0})


def test_absent_inputs_never_reach_encoders():
    model = build_multimodal_model(
        {"category": 3},
        image_encoder=ImageEncoderConfig("resnet18"),
        audio_encoder=AudioEncoderConfig("cnn", channels=(4, 8)),
        embed_dim=8,
        fusion=FusionConfig(hidden_dim=8),
        n_mels=16,
        image_size=32,
    )
    model.train()  # batch norm uses batch statistics, so placeholders would shift them
    batch = _batch()
    torch.manual_seed(1)
    first = model(batch)["features"]
    batch["image"]["pixels"][1] = 1000.0  # sample 1 has no image
    batch["audio"]["features"][3] = -1000.0  # sample 3 has no audio
    torch.manual_seed(1)
    second = model(batch)["features"]
    assert torch.allclose(first["image"], second["image"])
    assert torch.allclose(first["audio"], second["audio"])
    assert first["image"][1].abs().sum().item() == 0.0
    assert first["audio"][3].abs().sum().item() == 0.0


def test_modality_absent_from_whole_batch():
    model = build_multimodal_model(
        {"category": 3},
        image_encoder=ImageEncoderConfig("resnet18"),
        embed_dim=8,
        fusion=FusionConfig(hidden_dim=8),
        image_size=32,
    )
    batch = _batch(batch_size=2)
    batch["present"]["image"] = torch.tensor([False, False])
    outputs = model(batch)
    assert outputs["features"]["image"].shape == (2, 8)
    assert outputs["logits"]["category"].shape == (2, 3)


def test_cross_attention_reads_encoder_tokens():
    model = build_multimodal_model(
        {"category": 3},
        TextEncoderConfig(TEXT_MODEL),
        ImageEncoderConfig("resnet18"),
        AudioEncoderConfig("cnn", channels=(8, 16)),
        embed_dim=32,
        fusion=FusionConfig(kind="cross_attention", hidden_dim=32),
        n_mels=16,
        image_size=32,
    )
    batch = _batch()
    _, tokens, mask = model.project_with_tokens("image", batch["image"], batch["present"]["image"])
    # ResNet-18 at 32 pixels ends in a 1 x 1 map: one token per picture, none for row 1.
    assert tokens.shape == (4, 1, 32)
    assert mask[:, 0].tolist() == [True, False, True, True]
    outputs = model(batch)
    assert outputs["fused"].shape == (4, 32)
    outputs["logits"]["category"].sum().backward()
    assert model.encoders["audio"].blocks[0].weight.grad is not None


def test_token_fusion_needs_a_backbone_with_avgpool():
    with pytest.raises(ConfigError, match="'squeezenet1_0' has no avgpool layer"):
        build_multimodal_model(
            {"category": 3},
            TextEncoderConfig(TEXT_MODEL),
            ImageEncoderConfig("squeezenet1_0"),
            embed_dim=8,
            fusion=FusionConfig(kind="cross_attention", hidden_dim=8),
            image_size=64,
        )
