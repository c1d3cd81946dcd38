from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from mmlearn.errors import ConfigError
from mmlearn.models.encoders import AudioEncoderConfig, ImageEncoderConfig, TextEncoderConfig
from mmlearn.tasks import TaskConfig
from mmlearn.training import MultimodalModule, OptimizerConfig
from mmlearn.training.optim import build_optimizer, warmup_cosine
from tests.helpers import TEXT_MODEL

CLASSES = {"category": ["a", "b", "c"], "subcategory": ["x", "y"]}


def make_module(**overrides) -> MultimodalModule:
    settings = {
        "tasks": [TaskConfig("category"), TaskConfig("sub", label="subcategory", weight=0.5)],
        "class_names": CLASSES,
        "image_encoder": ImageEncoderConfig("resnet18", lr=1e-2),
        "audio_encoder": AudioEncoderConfig("cnn", channels=(4, 8), freeze=True),
        "n_mels": 8,
        "image_size": 32,
        "embed_dim": 16,
        "fusion": {"hidden_dim": 16},
    }
    settings.update(overrides)
    return MultimodalModule(**settings)


def make_batch(batch_size: int = 6) -> dict:
    torch.manual_seed(0)
    return {
        "ids": [str(i) for i in range(batch_size)],
        "present": {
            "image": torch.ones(batch_size, dtype=torch.bool),
            "audio": torch.tensor([True, False] * (batch_size // 2)),
        },
        "image": {"pixels": torch.randn(batch_size, 3, 32, 32)},
        "audio": {
            "features": torch.randn(batch_size, 8, 20),
            "frame_lengths": torch.full((batch_size,), 20),
        },
        "targets": {
            "category": torch.tensor([0, 1, 2, 0, 1, 2][:batch_size]),
            "subcategory": torch.tensor([0, -1, 1, -1, 0, 1][:batch_size]),
        },
    }


def test_build_optimizer_learning_rates():
    module = make_module()
    groups = [("image", module.model.encoders["image"], 1e-2), ("rest", module.model.fusion, None)]
    optimizer, scheduler = build_optimizer(groups, OptimizerConfig(lr=1e-3), total_steps=10)
    assert [group["initial_lr"] for group in optimizer.param_groups] == [1e-2, 1e-3]
    assert [group["name"] for group in optimizer.param_groups] == ["image", "rest"]
    assert scheduler.get_last_lr() == pytest.approx([1e-2 * 1.0, 1e-3 * 1.0])
    with pytest.raises(ValueError, match="no trainable parameters"):
        build_optimizer([("audio", module.model.encoders["audio"], None)], OptimizerConfig(), 10)


def test_configure_optimizers_param_groups(monkeypatch):
    module = make_module()
    # configure_optimizers reads only the step count from the trainer.
    stepping = SimpleNamespace(estimated_stepping_batches=20)
    monkeypatch.setattr(MultimodalModule, "trainer", property(lambda self: stepping))
    config = module.configure_optimizers()
    groups = config["optimizer"].param_groups
    in_groups = [id(p) for group in groups for p in group["params"]]
    trainable = [id(p) for p in module.parameters() if p.requires_grad]
    assert len(in_groups) == len(set(in_groups))
    assert set(in_groups) == set(trainable)
    assert groups[0]["lr"] == pytest.approx(1e-2 * warmup_cosine(0, 20, 2, 0.0))


def fit_fixed_batch(module: MultimodalModule, steps: int) -> tuple[list[float], dict]:
    """Take ``steps`` AdamW steps on ``make_batch()``; return the losses and last outputs.

    The optimized loss is the module's weighted total (with GradNorm's term), plus the
    unimodal loss when the module has unimodal heads. The returned losses are the
    plain sums of the task losses, which every weighting scheme should lower.
    """
    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=1e-3)
    batch = make_batch()
    module.train()
    losses = []
    for _ in range(steps):
        outputs = module.model(batch)
        task_losses = {
            task.name: module.task_modules[task.name].loss(
                outputs["logits"][task.name], batch["targets"][task.column]
            )
            for task in module.tasks
        }
        weighted = module.loss_weighting(task_losses, {name: True for name in task_losses})
        loss = weighted.total
        if weighted.auxiliary is not None:
            loss = loss + weighted.auxiliary
        if module.unimodal_loss_weight > 0:
            loss = loss + module.unimodal_loss(outputs, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(sum(value.item() for value in task_losses.values()))
    return losses, outputs


@pytest.mark.parametrize("weighting", ["static", "uncertainty", "dwa", "gradnorm"])
def test_training_steps_lower_loss_on_fixed_batch(weighting: str):
    torch.manual_seed(0)  # the initial weights, and so the descent, depend on the seed
    module = make_module(unimodal_loss_weight=0.5, loss_weighting={"kind": weighting})
    losses, _ = fit_fixed_batch(module, steps=8)
    assert losses[-1] < losses[0]


def test_unimodal_loss_ignores_absent_modality():
    module = make_module(unimodal_loss_weight=1.0).eval()
    batch = make_batch()
    outputs = module.model(batch)
    before = module.unimodal_loss(outputs, batch)
    # Change the audio logits of samples without audio: the loss must not move.
    absent = ~batch["present"]["audio"]
    for task_logits in outputs["unimodal_logits"]["audio"].values():
        task_logits[absent] = task_logits[absent] + 50.0
    after = module.unimodal_loss(outputs, batch)
    assert torch.allclose(before, after)
    assert set(outputs["unimodal_logits"]) == {"image", "audio"}


def test_logged_keys_and_task_checks():
    module = make_module(unimodal_loss_weight=0.3)
    keys = module.logged_metric_keys(("val",))
    assert len(keys) == len(set(keys))
    assert set(keys) == {
        "val/loss",
        "val/unimodal_loss",
        "val/category/loss",
        "val/category/acc",
        "val/category/f1",
        "val/sub/loss",
        "val/sub/acc",
        "val/sub/f1",
    }
    with pytest.raises(ConfigError, match="label column 'colour'"):
        make_module(tasks=[TaskConfig("colour")])
    with pytest.raises(ConfigError, match="duplicate names"):
        make_module(tasks=[TaskConfig("category"), TaskConfig("category")])
    with pytest.raises(ConfigError, match="class_names is missing"):
        make_module(class_names=None)


@pytest.mark.parametrize("kind", ["gated", "late"])
def test_fusion_from_config_trains_and_logs_weights(kind: str):
    module = make_module(fusion={"kind": kind, "hidden_dim": 16, "dropout": 0.0})
    assert module.hparams["fusion"]["kind"] == kind
    weight_keys = {"train/fusion_weight/image", "train/fusion_weight/audio"}
    assert weight_keys <= set(module.logged_metric_keys(("train",)))
    losses, outputs = fit_fixed_batch(module, steps=5)
    assert losses[-1] < losses[0]
    # Samples 1, 3 and 5 lack audio, so image carries more than half the weight.
    weights = outputs["fusion_weights"].detach()
    assert (weights[1::2, 1] == 0).all()
    assert weights[:, 0].mean() > 0.5


def test_text_encoder_with_checkpoint_hparams_round_trip():
    module = make_module(text_encoder=TextEncoderConfig(TEXT_MODEL, freeze=True))
    hparams = dict(module.hparams)
    assert hparams["text_encoder"]["model_name_or_path"] == TEXT_MODEL
    assert isinstance(hparams["tasks"][0], dict)
    rebuilt = MultimodalModule(**hparams)
    assert rebuilt.modalities == ["text", "image", "audio"]
    assert not any(p.requires_grad for p in rebuilt.model.encoders["text"].parameters())


def test_warmup_cosine_schedule_values():
    assert warmup_cosine(0, 100, 10, 0.0) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 10, 0.0) == pytest.approx(1.0)
    assert warmup_cosine(10, 100, 10, 0.0) == pytest.approx(1.0)
    assert warmup_cosine(55, 100, 10, 0.0) == pytest.approx(0.5)
    assert warmup_cosine(100, 100, 10, 0.1) == pytest.approx(0.1)
    assert warmup_cosine(32, 100, 10, 0.0) == pytest.approx(0.5 * (1 + math.cos(math.pi * 22 / 90)))


def test_every_task_type_in_one_module():
    tasks = [
        TaskConfig("category"),
        TaskConfig("tags", type="multilabel"),
        TaskConfig("size", type="regression", weight=0.5),
        TaskConfig("align", type="contrastive", modalities=("image", "audio")),
    ]
    class_names = {"category": ["a", "b", "c"], "tags": ["red", "round"], "size": []}
    module = make_module(tasks=tasks, class_names=class_names, unimodal_loss_weight=0.5)
    assert set(module.model.heads) == {"category", "tags", "size"}
    keys = module.logged_metric_keys(("val",))
    for key in ["val/tags/map", "val/tags/f1/round", "val/size/rmse", "val/align/r10"]:
        assert key in keys

    batch = make_batch()
    batch["targets"] = {
        "category": torch.tensor([0, 1, 2, 0, 1, 2]),
        "tags": torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, -1.0]] + [[0.0, 0.0]] * 2),
        "size": torch.tensor([0.5, -1.0, float("nan"), 2.0, 0.0, 1.0]),
    }
    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=1e-3)
    module.train()
    totals = []
    for _ in range(6):
        outputs = module.model(batch)
        losses = {
            name: task.loss(task.prediction(outputs), task.targets(batch))
            for name, task in module.task_modules.items()
        }
        labelled = {name: True for name in losses}
        total = module.loss_weighting(losses, labelled).total + module.unimodal_loss(outputs, batch)
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        totals.append(total.item())
    assert all(math.isfinite(t) for t in totals)
    assert totals[-1] < totals[0]
    # Audio is present in rows 0, 2 and 4 only, so three pairs are aligned.
    assert module.task_modules["align"].targets(batch).sum().item() == 3

    module.eval()
    records = module.predict_step(batch, 0)
    assert set(records[0]) == {
        "id",
        "category",
        "category_probability",
        "tags",
        "tags_probabilities",
        "size",
        "embedding",
    }
    assert isinstance(records[0]["tags"], list)
    assert isinstance(records[0]["size"], float)
    # The contrastive task aligns image and audio; row 1 has no audio.
    assert sorted(records[0]["embedding"]) == ["audio", "image"]
    assert records[1]["embedding"]["audio"] is None


def test_contrastive_only_module_has_no_unimodal_heads():
    tasks = [TaskConfig("align", type="contrastive", modalities=("image", "audio"))]
    module = make_module(tasks=tasks, class_names={}, unimodal_loss_weight=0.5)
    assert module.unimodal_loss_weight == 0.0
    assert len(module.model.unimodal_heads) == 0
    assert module.logged_metric_keys(("val",)).count("val/unimodal_loss") == 0
    assert "val/align/loss" in module.logged_metric_keys(("val",))


def test_contrastive_task_needs_two_encoded_modalities():
    bad = TaskConfig("align", type="contrastive", modalities=("text", "image"))
    with pytest.raises(ConfigError, match=r"needs two different modalities the model encodes"):
        make_module(tasks=[TaskConfig("category"), bad])
