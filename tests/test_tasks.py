"""Multilabel, regression and contrastive tasks: labels, losses and metrics by hand."""

from __future__ import annotations

import math

import pytest
import torch

from mmlearn.data.labels import label_classes, label_target, parse_label
from mmlearn.data.manifest import load_manifest
from mmlearn.errors import ManifestError
from mmlearn.tasks import ContrastiveTask, MultilabelTask, RegressionTask
from mmlearn.tasks.retrieval import RetrievalRecall
from tests.helpers import write_jsonl


def test_parse_labels_by_type():
    assert parse_label("red | round", "multilabel") == ["red", "round"]
    assert parse_label(["red"], "multilabel") == ["red"]
    assert parse_label([], "multilabel") == []
    assert parse_label("2.5", "regression") == 2.5
    assert parse_label(None, "regression") is None
    with pytest.raises(ValueError, match="'tall' is not a number"):
        parse_label("tall", "regression")
    with pytest.raises(ValueError, match="declare the task as multilabel"):
        parse_label(["a", "b"], "multiclass")
    assert label_classes([["b", "a"], None, ["c"]], "multilabel") == ["a", "b", "c"]

    index = {"a": 0, "b": 1, "c": 2}
    assert label_target(["c", "a"], "multilabel", index).tolist() == [1.0, 0.0, 1.0]
    assert label_target([], "multilabel", index).tolist() == [0.0, 0.0, 0.0]
    assert label_target(None, "multilabel", index).tolist() == [-1.0, -1.0, -1.0]
    assert math.isnan(label_target(None, "regression", {}).item())


def test_manifest_label_type_errors(tmp_path):
    rows = [
        {"id": "ok", "text": "x", "tags": ["red"], "size": 1.5},
        {"id": "word", "text": "x", "tags": "red|blue", "size": "big"},
        {"id": "typo", "text": "x", "tags": ["rde"], "size": 2},
    ]
    path = write_jsonl(tmp_path / "m.jsonl", rows)
    types = {"tags": "multilabel", "size": "regression"}
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, ["tags", "size"], classes={"tags": ["red", "blue"]}, label_types=types)
    message = str(caught.value)
    assert "row 2 (id 'word'): column 'size': 'big' is not a number" in message
    assert "row 3 (id 'typo'): label 'rde' in column 'tags' is not a declared class" in message
    assert "(did you mean 'red'?)" in message
    assert "row 1" not in message


def test_multilabel_loss_metrics_and_predictions():
    task = MultilabelTask("tags", "tags", ["red", "round"])
    assert task.metric_names == ("map", "f1", "f1/red", "f1/round")
    logits = torch.tensor([[4.0, -4.0], [-4.0, 4.0], [4.0, 4.0], [0.0, 0.0]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [-1.0, -1.0]])
    assert task.labelled(targets).tolist() == [True, True, True, False]
    # Mean binary cross-entropy over 3 labelled rows x 2 classes: five terms are
    # log(1 + e^-4), and one, row 3's wrong "round", is log(1 + e^4).
    expected = (5 * math.log1p(math.exp(-4)) + math.log1p(math.exp(4))) / 6
    assert task.loss(logits, targets).item() == pytest.approx(expected, rel=1e-5)

    metrics = task.make_metrics("val/tags/")
    task.update_metrics(metrics, logits, targets)
    values = {key: value.item() for key, value in metrics.compute().items()}
    assert values["val/tags/f1/red"] == pytest.approx(1.0)
    # "round": one true positive, one false positive: F1 = 2 / 3.
    assert values["val/tags/f1/round"] == pytest.approx(2 / 3)
    assert values["val/tags/f1"] == pytest.approx((1 + 2 / 3) / 2)
    assert set(values) == {f"val/tags/{name}" for name in task.metric_names}

    records = task.predict(logits[:1], ["red", "round"])
    assert records[0]["tags"] == ["red"]
    assert records[0]["tags_probabilities"]["red"] == pytest.approx(0.982014, abs=1e-6)


def test_regression_metrics_by_hand():
    task = RegressionTask("size", "size")
    prediction = task.prediction({"logits": {"size": torch.tensor([[1.0], [2.0], [3.0]])}})
    targets = torch.tensor([1.0, 4.0, float("nan")])
    # Squared errors 0 and 4 on the two labelled rows.
    assert task.loss(prediction, targets).item() == pytest.approx(2.0)
    metrics = task.make_metrics("test/size/")
    task.update_metrics(metrics, prediction, targets)
    values = metrics.compute()
    assert values["test/size/mae"].item() == pytest.approx(1.0)
    assert values["test/size/rmse"].item() == pytest.approx(math.sqrt(2.0))
    no_labels = torch.full((3,), float("nan"))
    zero = task.loss(prediction, no_labels)
    assert zero.item() == 0.0


def test_contrastive_loss_by_hand():
    task = ContrastiveTask("align", ("text", "image"), temperature=1.0)
    eye = torch.eye(2)
    outputs = {"features": {"text": torch.cat([eye, eye[:1]]), "image": torch.cat([eye, eye[1:]])}}
    batch = {
        "present": {
            "text": torch.tensor([True, True, True]),
            "image": torch.tensor([True, True, False]),
        }
    }
    targets = task.targets(batch)
    assert targets.tolist() == [True, True, False]
    # Two orthonormal pairs at temperature 1: logits = I, so each row's cross-entropy
    # is log(1 + e^-1), in both directions; the third row has no image and is left out.
    loss = task.loss(task.prediction(outputs), targets)
    assert loss.item() == pytest.approx(math.log1p(math.exp(-1.0)), rel=1e-6)
    loss.backward()
    assert task.log_scale.grad is not None and task.log_scale.grad.item() < 0


def test_contrastive_step_lowers_the_loss():
    torch.manual_seed(0)
    task = ContrastiveTask("align", ("text", "image"))
    project = torch.nn.Linear(6, 6)
    text, image = torch.randn(8, 6), torch.randn(8, 6)
    present = torch.ones(8, dtype=torch.bool)
    optimizer = torch.optim.SGD([*project.parameters(), *task.parameters()], lr=0.05)

    def loss() -> torch.Tensor:
        features = torch.stack([project(text), image], dim=1)
        return task.loss(features, present)

    first = loss()
    first.backward()
    optimizer.step()
    with torch.no_grad():
        assert loss() < first


def test_retrieval_recall_by_hand():
    metric = RetrievalRecall((1, 2))
    first = torch.eye(3)
    # Partner of 0 is most like 0, partner of 1 most like 2, partner of 2 most like 1.
    second = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.4, 1.0], [0.0, 1.0, 0.4]])
    metric.update(first[:2], second[:2])
    metric.update(first[2:], second[2:])
    values = metric.compute()
    # First to second: only row 0 is right at k=1; all three within k=2. Second to
    # first ranks the same way here, so both directions agree.
    assert values["r1"].item() == pytest.approx(1 / 3)
    assert values["r2"].item() == pytest.approx(1.0)
