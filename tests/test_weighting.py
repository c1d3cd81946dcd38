"""Multitask loss weighting, checked against values worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from mmlearn.errors import ConfigError
from mmlearn.models.builder import build_fusion
from mmlearn.models.fusion import FusionConfig
from mmlearn.training.weighting import (
    DynamicWeightAverage,
    GradNorm,
    StaticWeighting,
    UncertaintyWeighting,
    WeightingConfig,
    build_weighting,
)

BOTH = {"a": True, "b": True}
ONLY_A = {"a": True, "b": False}


def losses(a: float, b: float) -> dict[str, torch.Tensor]:
    return {"a": torch.tensor(a), "b": torch.tensor(b)}


def test_static_weights_and_unlabelled_task():
    weighting = StaticWeighting({"a": 1.0, "b": 0.5})
    assert weighting(losses(2.0, 4.0), BOTH).total.item() == pytest.approx(4.0)
    result = weighting(losses(2.0, 4.0), ONLY_A)
    assert result.total.item() == pytest.approx(2.0)
    assert {k: v.item() for k, v in result.weights.items()} == {"a": 1.0, "b": 0.5}


def test_uncertainty_weighting_by_hand():
    weighting = UncertaintyWeighting({"a": 1.0, "b": 0.5})
    # s = 0: total = 1 * (2 + 0) + 0.5 * (0.5 + 0).
    result = weighting(losses(2.0, 0.5), BOTH)
    assert result.total.item() == pytest.approx(2.25)
    # d/ds_t of w_t * (exp(-s_t) L_t + s_t) at s = 0 is w_t * (1 - L_t).
    result.total.backward()
    assert weighting.log_variance.grad.tolist() == pytest.approx([-1.0, 0.25])

    with torch.no_grad():
        weighting.log_variance.copy_(torch.tensor([math.log(2.0), -math.log(2.0)]))
    # 1 * (2 / 2 + ln 2) + 0.5 * (0.5 * 2 - ln 2)
    result = weighting(losses(2.0, 0.5), BOTH)
    assert result.total.item() == pytest.approx(1.8465736, abs=1e-6)
    assert result.weights["a"].item() == pytest.approx(0.5)
    assert result.weights["b"].item() == pytest.approx(1.0)

    weighting.log_variance.grad = None
    weighting(losses(2.0, 0.5), ONLY_A).total.backward()
    assert weighting.log_variance.grad[1].item() == 0.0


def test_dynamic_weight_average_by_hand():
    weighting = DynamicWeightAverage({"a": 1.0, "b": 1.0}, temperature=2.0).train()
    # Epoch 1: mean losses a = 1.0, b = 2.0. Epoch 2: a = 0.5, b = 1.8; the batch
    # without labels for b (loss 100) must not count.
    epochs = [
        [(losses(1.2, 2.0), BOTH), (losses(0.8, 2.0), BOTH)],
        [(losses(0.5, 1.8), BOTH), (losses(0.5, 100.0), ONLY_A)],
    ]
    for epoch in epochs:
        for batch_losses, labelled in epoch:
            result = weighting(batch_losses, labelled)
            assert [w.item() for w in result.weights.values()] == [1.0, 1.0]
        weighting.end_epoch()
    assert weighting.history.tolist() == [pytest.approx([1.0, 2.0]), pytest.approx([0.5, 1.8])]
    # Ratios r = (0.5, 0.9); weights 2 * softmax(r / 2) = 2 * softmax(0.25, 0.45).
    result = weighting(losses(1.0, 1.0), BOTH)
    assert result.weights["a"].item() == pytest.approx(0.900332, abs=1e-6)
    assert result.weights["b"].item() == pytest.approx(1.099668, abs=1e-6)
    assert result.total.item() == pytest.approx(2.0)

    weighting.end_epoch()  # epoch 3 means: a = 1.0, b = 1.0

    # A task without labels for a whole epoch keeps its last mean.
    weighting(losses(0.25, 9.0), ONLY_A)
    weighting.end_epoch()
    assert weighting.history.tolist() == [pytest.approx([1.0, 1.0]), pytest.approx([0.25, 1.0])]


def test_gradnorm_by_hand():
    # One shared layer y = W x with W = [1, 1] and x = [1, 2], so y = 3.
    shared = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        shared.weight.fill_(1.0)
    weighting = GradNorm({"a": 1.0, "b": 1.0}, [shared.weight], alpha=1.5).train()
    y = shared(torch.tensor([[1.0, 2.0]])).sum()
    # grad_W of 10 y is [10, 20], norm 10 sqrt 5; of y, norm sqrt 5. At the first step
    # both loss ratios are 1, so the target is the mean norm, 5.5 sqrt 5, and
    # L_grad = |10 - 5.5| sqrt 5 + |1 - 5.5| sqrt 5 = 9 sqrt 5.
    result = weighting({"a": 10 * y, "b": y}, BOTH)
    assert result.auxiliary.item() == pytest.approx(9 * math.sqrt(5), rel=1e-6)
    assert result.total.item() == pytest.approx(33.0)
    (result.total + result.auxiliary).backward()
    assert weighting.weights.grad.tolist() == pytest.approx(
        [10 * math.sqrt(5), -math.sqrt(5)], rel=1e-6
    )
    # The network's gradient comes from the weighted losses alone: 11 x.
    assert shared.weight.grad.tolist() == [pytest.approx([11.0, 22.0])]

    with torch.no_grad():
        weighting.weights -= 0.01 * weighting.weights.grad
    weighting.renormalize()
    a, b = weighting.weights.tolist()
    assert a + b == pytest.approx(2.0)
    assert a < 1.0 < b

    # With one labelled task there is nothing to balance.
    y = shared(torch.tensor([[1.0, 2.0]])).sum()
    assert weighting({"a": y, "b": y}, ONLY_A).auxiliary is None


def test_gradnorm_needs_a_shared_fusion_layer():
    late = build_fusion(FusionConfig(kind="late"), ["text", "image"], 8, {"a": 2})
    with pytest.raises(ConfigError, match="late fusion has none"):
        build_weighting(WeightingConfig(kind="gradnorm"), {"a": 1.0}, late)
    low_rank = build_fusion(FusionConfig(kind="low_rank"), ["text", "image"], 8, {"a": 2})
    gradnorm = build_weighting(WeightingConfig(kind="gradnorm"), {"a": 1.0}, low_rank)
    assert gradnorm.shared_parameters == [low_rank.factors]
    # Watched, not owned: the fusion's parameters are not saved twice.
    assert sorted(gradnorm.state_dict()) == ["initial_losses", "task_weights", "weights"]
