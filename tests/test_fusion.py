"""Every fusion strategy: shapes, masking of absent modalities, weights and one training step."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from mmlearn.models.builder import build_fusion
from mmlearn.models.fusion import FusionConfig, FusionOutput, GatedFusion, LateFusion

MODALITIES = ["text", "image", "audio"]
TOKEN_KINDS = ["attention_tokens", "cross_attention"]
KINDS = ["concat", "mean", "sum", "gated", "attention", "low_rank", "late", *TOKEN_KINDS]
WEIGHTED = ["mean", "gated", "attention", "late", "attention_tokens"]
DIM, HIDDEN, CLASSES = 8, 16, {"category": 3, "colour": 2}


class WithTokens(torch.nn.Module):
    """Feed a token-reading fusion three tokens per modality, built from its features.

    The third token is padding. Tokens follow the features, so a test that changes a
    feature changes that modality's tokens too.
    """

    def __init__(self, fusion: torch.nn.Module):
        super().__init__()
        self.fusion = fusion
        self.output_dim = fusion.output_dim
        self.padding = torch.zeros(DIM)

    def tokens(self, features):
        result = {}
        for name, x in features.items():
            padding = self.padding.expand_as(x)
            values = torch.stack([x, x.roll(1, dims=-1) * 0.5, padding], dim=1)
            mask = torch.tensor([True, True, False]).expand(x.shape[0], -1)
            result[name] = (values, mask)
        return result

    def forward(self, features, present) -> FusionOutput:
        return self.fusion(features, present, self.tokens(features))


def make_fusion(kind: str, **settings) -> torch.nn.Module:
    torch.manual_seed(0)
    if kind == "attention_tokens":
        kind, settings = "attention", {**settings, "tokens": True}
    config = FusionConfig(kind=kind, hidden_dim=HIDDEN, dropout=0.0, num_heads=2, **settings)
    fusion = build_fusion(config, MODALITIES, DIM, CLASSES)
    if config.uses_tokens:
        fusion = WithTokens(fusion)
    return fusion.eval()


def make_inputs(batch_size: int = 4):
    torch.manual_seed(1)
    features = {name: torch.randn(batch_size, DIM) for name in MODALITIES}
    present = {
        "text": torch.tensor([True, True, False, True]),
        "image": torch.tensor([True, False, True, True]),
        "audio": torch.tensor([False, True, True, True]),
    }
    return features, present


def logits_of(output: FusionOutput, heads: torch.nn.Module) -> torch.Tensor:
    """The category logits: late fusion's own, or ``heads`` over the fused vector."""
    if output.logits is not None:
        return output.logits["category"]
    return heads(output.fused)


@pytest.mark.parametrize("kind", KINDS)
def test_shapes(kind: str):
    fusion = make_fusion(kind)
    features, present = make_inputs()
    output = fusion(features, present)
    assert output.fused.shape == (4, fusion.output_dim)
    assert torch.isfinite(output.fused).all()
    if kind == "late":
        assert fusion.output_dim == DIM
        assert {task: x.shape for task, x in output.logits.items()} == {
            "category": (4, 3),
            "colour": (4, 2),
        }
    else:
        assert fusion.output_dim == HIDDEN
        assert output.logits is None


@pytest.mark.parametrize("kind", KINDS)
def test_absent_modality_changes_nothing(kind: str):
    fusion = make_fusion(kind)
    features, present = make_inputs()
    before = fusion(features, present)
    # Row 0 lacks audio; rows 1 to 3 have it.
    shifted = dict(features, audio=features["audio"] + 100.0)
    after = fusion(shifted, present)
    for old, new in [(before.fused, after.fused)] + (
        [(before.logits["category"], after.logits["category"])] if kind == "late" else []
    ):
        torch.testing.assert_close(old[0], new[0])
        assert not torch.allclose(old[1:], new[1:])
    if before.weights is not None:
        torch.testing.assert_close(before.weights[0], after.weights[0])


@pytest.mark.parametrize("kind", WEIGHTED)
def test_weights_cover_present_modalities(kind: str):
    fusion = make_fusion(kind)
    features, present = make_inputs()
    weights = fusion(features, present).weights
    mask = torch.stack([present[name] for name in MODALITIES], dim=1)
    assert weights.shape == (4, 3)
    assert (weights[~mask] == 0).all()
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(4))


@pytest.mark.parametrize("kind", KINDS)
def test_sample_without_any_modality_stays_finite(kind: str):
    fusion = make_fusion(kind)
    features, _ = make_inputs(2)
    nothing = {name: torch.tensor([False, True]) for name in MODALITIES}
    output = fusion({k: v[:2] for k, v in features.items()}, nothing)
    assert torch.isfinite(output.fused).all()
    if output.weights is not None:
        assert torch.isfinite(output.weights).all()


@pytest.mark.parametrize("kind", KINDS)
def test_one_step_lowers_the_loss(kind: str):
    fusion = make_fusion(kind).train()
    heads = torch.nn.Linear(fusion.output_dim, 3)
    features, present = make_inputs()
    targets = torch.tensor([0, 1, 2, 1])
    parameters = list(fusion.parameters()) + list(heads.parameters())
    optimizer = torch.optim.SGD(parameters, lr=0.05)

    def loss() -> torch.Tensor:
        return F.cross_entropy(logits_of(fusion(features, present), heads), targets)

    first = loss()
    first.backward()
    optimizer.step()
    with torch.no_grad():
        assert loss() < first


def test_late_fusion_with_fixed_weights_averages_present_heads():
    fusion = make_fusion("late", late_weights="fixed")
    assert isinstance(fusion, LateFusion)
    assert not any(p is fusion.scores for p in fusion.parameters())
    features, present = make_inputs()
    output = fusion(features, present)
    heads = fusion.heads
    # Row 0 has text and image: the mean of their heads' logits.
    expected = (
        heads["text"]["category"](features["text"][:1])
        + heads["image"]["category"](features["image"][:1])
    ) / 2
    torch.testing.assert_close(output.logits["category"][:1], expected)
    torch.testing.assert_close(output.weights[0], torch.tensor([0.5, 0.5, 0.0]))


def test_gated_fusion_single_modality():
    fusion = make_fusion("gated")
    assert isinstance(fusion, GatedFusion)
    features, _ = make_inputs(2)
    only_image = {
        "text": torch.tensor([False, False]),
        "image": torch.tensor([True, True]),
        "audio": torch.tensor([False, False]),
    }
    output = fusion({k: v[:2] for k, v in features.items()}, only_image)
    torch.testing.assert_close(output.weights, torch.tensor([[0.0, 1.0, 0.0]] * 2))
    # The fused vector is then the MLP of the image's tanh transform alone.
    transformed = fusion.transforms["image"](features["image"][:2])
    torch.testing.assert_close(output.fused, fusion.mlp(transformed))


@pytest.mark.parametrize("kind", TOKEN_KINDS)
def test_padding_tokens_change_nothing(kind: str):
    fusion = make_fusion(kind)
    features, present = make_inputs()
    before = fusion(features, present)
    fusion.padding = torch.full((DIM,), 50.0)
    after = fusion(features, present)
    torch.testing.assert_close(before.fused, after.fused)


def test_cross_attention_without_the_query_modality():
    fusion = make_fusion("cross_attention")
    features, present = make_inputs()
    # Row 2 has no text: it queries with the summary token alone, so text changes nothing.
    shifted = dict(features, text=features["text"] - 30.0)
    torch.testing.assert_close(
        fusion(features, present).fused[2], fusion(shifted, present).fused[2]
    )
    with pytest.raises(ValueError, match="needs the query modality 'text'"):
        build_fusion(FusionConfig(kind="cross_attention"), ["image", "audio"], DIM, CLASSES)


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="invalid fusion kind 'bilinear'"):
        build_fusion(FusionConfig(kind="bilinear"), MODALITIES, DIM, CLASSES)
