"""The ``mmlearn`` command end to end on small manifests written in a temporary folder."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import yaml

import mmlearn
from mmlearn.cli import main, run_cli, worker_error_message
from mmlearn.data.sources.tuxpaint import build_tuxpaint_manifest
from mmlearn.errors import ConfigError
from tests.helpers import (
    MODEL,
    TUXPAINT_ROOT,
    rejected_args,
    wandb_logger_flags,
    write_config,
    write_jsonl,
)


def test_fit_then_test_from_checkpoint(tmp_path: Path, make_manifest, caplog):
    config = write_config(tmp_path, make_manifest(per_split=8))
    with caplog.at_level(logging.INFO):
        fit = run_cli(["fit", "--config", str(config)])
    assert fit.model.modalities == ["text", "image", "audio"]
    assert fit.model.class_names["category"] == ["cold", "warm"]
    assert fit.trainer.global_step == 2
    assert "val/category/acc" in fit.trainer.callback_metrics
    # The second of 2 steps, with no warm-up: half way down the cosine, so half the lr.
    learning_rates = {"text": 0.5e-4, "image": 0.5e-3, "audio": 0.5e-3, "default": 0.5e-3}
    for group, lr in learning_rates.items():
        assert float(fit.trainer.callback_metrics[f"train/lr/{group}"]) == pytest.approx(lr)
    checkpoint = tmp_path / "run" / "checkpoints" / "best.ckpt"
    assert checkpoint.is_file()
    assert "Best checkpoint (val/category/acc " in caplog.text
    assert f"): {checkpoint}" in caplog.text
    assert f"Last checkpoint: {checkpoint.parent / 'last.ckpt'}" in caplog.text
    assert f"Logs: {tmp_path / 'run' / 'logs' / 'version_0'}" in caplog.text
    # The logger's hparams.yaml is plain YAML, with no Python tuples.
    hparams_file = tmp_path / "run" / "logs" / "version_0" / "hparams.yaml"
    hparams = yaml.safe_load(hparams_file.read_text())
    assert hparams["audio_encoder"]["channels"] == [8, 16]

    caplog.clear()
    with caplog.at_level(logging.INFO):
        test = run_cli(["test", "--config", str(config), "--ckpt_path", str(checkpoint)])
    assert f"Model settings come from the hyperparameters stored in {checkpoint}" in caplog.text
    metrics = test.trainer.callback_metrics
    for key in ("test/loss", "test/category/acc", "test/category/f1", "test/subcategory/acc"):
        assert key in metrics, key
    assert 0.0 <= float(metrics["test/category/acc"]) <= 1.0
    rows = (tmp_path / "run" / "logs").glob("version_*/metrics.csv")
    assert any("test/category/acc" in row.read_text() for row in rows)


def test_version_and_help_name_the_data_command(capsys):
    for flag in ("--version", "--help"):
        with pytest.raises(SystemExit) as caught:
            main([flag])
        assert caught.value.code == 0
    out = capsys.readouterr().out
    assert f"mmlearn {mmlearn.__version__}\n" in out
    # argparse wraps the description to the terminal width.
    assert "`mmlearn data tuxpaint` writes the manifest" in " ".join(out.split())


def test_abbreviated_flag_is_rejected(tmp_path: Path, make_manifest, capsys):
    config = write_config(tmp_path, make_manifest(per_split=4))
    message = rejected_args(["fit", "--config", str(config), "--trainer.max_epoch", "1"], capsys)
    # A short usage line, not every option, comes before the error.
    assert message.startswith("usage: mmlearn fit [-h] [-c CONFIG] [options]\n")
    assert len(message.splitlines()) == 3
    assert (
        "unrecognized arguments: --trainer.max_epoch 1. Did you mean '--trainer.max_epochs'?"
        in message
    )


MISSPELLED = [
    (
        {"trainer__max_epoch": 1},
        "Subcommand 'fit' does not accept option 'trainer.max_epoch'. "
        "Did you mean 'trainer.max_epochs'?",
    ),
    (
        {"model": {**MODEL, "fusion": {"hiden_dim": 32}}},
        "Option 'hiden_dim' is not accepted. Did you mean 'hidden_dim'?",
    ),
    ({"data__zzz": 1}, "Subcommand 'fit' does not accept option 'data.zzz'\n"),
    (
        {"model": {**MODEL, "fusoin": {"kind": "gated"}}},
        "does not accept option 'model.fusoin.kind'. Did you mean 'model.fusion.kind'?",
    ),
]


@pytest.mark.parametrize(
    ("settings", "expected"), MISSPELLED, ids=["trainer", "fusion", "unknown", "section"]
)
def test_misspelled_config_key_names_the_nearest(
    tmp_path: Path, make_manifest, capsys, settings: dict, expected: str
):
    config = write_config(tmp_path, make_manifest(per_split=4), **settings)
    message = rejected_args(["fit", "--config", str(config)], capsys)
    assert expected in message
    assert message.count("Did you mean") == ("Did you mean" in expected)


MISSPELLED_FLAGS = [
    (["--model.text_encoder.pooling_mode", "mean"], "Did you mean 'pooling'?"),
    # Lightning's own --optimizer would drop the per-encoder learning rates.
    (["--optimizer", "SGD"], "--optimizer SGD. Did you mean '--model.optimizer'?"),
    (["--max_epochs", "2"], "--max_epochs 2. Did you mean '--trainer.max_epochs'?"),
    (["--trainr.max_epochs", "2"], "Did you mean '--trainer.max_epochs'?"),
    (["--data.batch_sise", "2"], "Did you mean '--data.batch_size'?"),
    (["--model.fusoin.kind", "gated"], "Did you mean '--model.fusion.kind'?"),
    (["--modle.fusion.kind", "gated"], "Did you mean '--model.fusion.kind'?"),
]


@pytest.mark.parametrize(
    ("flags", "expected"),
    MISSPELLED_FLAGS,
    ids=["nested", "optimizer", "section", "bad-section", "batch-size", "nested-section", "root"],
)
def test_misspelled_flag_names_the_nearest(
    tmp_path: Path, make_manifest, capsys, flags: list[str], expected: str
):
    config = write_config(tmp_path, make_manifest(per_split=4))
    assert expected in rejected_args(["fit", "--config", str(config), *flags], capsys)


CONTRASTIVE = [
    {"name": "text_image", "type": "contrastive", "modalities": ["text", "image"]},
    {"name": "text_audio", "type": "contrastive", "modalities": ["text", "audio"]},
]


@pytest.mark.parametrize("given_by", ["overlay", "flag", "append"])
def test_later_task_list_replaces_the_earlier_one(
    tmp_path: Path, make_manifest, capsys, given_by: str
):
    # The base config's second task has weight 0.5; jsonargparse alone would give
    # that weight to whatever task comes second in a later list of the same length.
    config = write_config(tmp_path, make_manifest(per_split=4))
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"model": {"tasks": CONTRASTIVE}}), encoding="utf-8")
    flags = {
        "overlay": ["--config", str(overlay)],
        "flag": ["--model.tasks", json.dumps(CONTRASTIVE)],
        "append": ["--model.tasks+", json.dumps(CONTRASTIVE[1])],
    }[given_by]
    with pytest.raises(SystemExit) as caught:
        main(["fit", "--config", str(config), *flags, "--print_config"])
    assert caught.value.code == 0
    tasks = yaml.safe_load(capsys.readouterr().out)["model"]["tasks"]
    weights = {task["name"]: task["weight"] for task in tasks}
    if given_by == "append":
        assert weights == {"category": 1.0, "subcategory": 0.5, "text_audio": 1.0}
    else:
        assert weights == {"text_image": 1.0, "text_audio": 1.0}


def test_single_modality_model_loads_only_its_data(tmp_path: Path, make_manifest):
    model = {**MODEL, "text_encoder": None, "audio_encoder": None}
    config = write_config(tmp_path, make_manifest(per_split=4), model=model)
    cli = run_cli(["fit", "--config", str(config), "--trainer.fast_dev_run", "1"])
    assert cli.model.modalities == ["image"]
    assert cli.datamodule.modalities == ["image"]
    assert cli.datamodule.text is None


def test_unlogged_monitor_fails_before_training(tmp_path: Path, make_manifest, capsys):
    config = write_config(tmp_path, make_manifest(per_split=4))
    flags = ["--early_stopping.monitor", "val/accuracy"]
    message = rejected_args(["fit", "--config", str(config), *flags], capsys)
    assert "EarlyStopping monitors 'val/accuracy', which the module never logs" in message
    assert "val/category/acc" in message

    # Both callbacks misspelled: both are named, with the nearest logged key.
    typo = "val/categry/acc"
    flags = ["--early_stopping.monitor", typo, "--checkpoint.monitor", typo]
    message = rejected_args(["fit", "--config", str(config), *flags], capsys)
    both = "EarlyStopping monitors 'val/categry/acc' and FlatModelCheckpoint monitors"
    assert both in message
    assert "Did you mean 'val/category/acc'?" in message
    assert not list((tmp_path / "run").rglob("metrics.csv"))
    assert not list((tmp_path / "run").rglob("*.ckpt"))


def test_bad_manifest_fails_at_setup_naming_rows(tmp_path: Path, media_dir: Path, capsys):
    rows = [
        {"id": "a", "image": "media/red.png", "category": "warm", "split": "train"},
        {"id": "b", "image": "media/gone.png", "category": "warm", "split": "train"},
        {"id": "c", "image": "media/blue.png", "category": "hot", "split": "val"},
    ]
    manifest = write_jsonl(tmp_path / "bad.jsonl", rows)
    model = {**MODEL, "tasks": [{"name": "category"}]}
    config = write_config(
        tmp_path,
        manifest,
        model=model,
        data__labels=["category"],
        data__classes={"category": ["warm", "cold"]},
    )
    message = rejected_args(["fit", "--config", str(config)], capsys)
    assert "2 invalid row(s)" in message
    assert "row 2 (id 'b'): image file not found" in message
    assert "row 3 (id 'c'): label 'hot' in column 'category' is not a declared class" in message
    assert "the declared classes are 'warm', 'cold'\n" in message


def predict_records(tmp_path: Path, config: Path, checkpoint: str, *flags: str) -> list[dict]:
    """Run ``mmlearn predict`` from ``checkpoint`` and return the records it wrote."""
    output = tmp_path / "predictions.jsonl"
    command = ["predict", "--config", str(config), "--ckpt_path", checkpoint, *flags]
    run_cli([*command, "--prediction_writer.output", str(output)])
    return [json.loads(line) for line in output.read_text().splitlines()]


@pytest.mark.parametrize("subcommand", ["test", "predict"])
def test_wrong_ckpt_path_is_rejected_early(tmp_path: Path, make_manifest, capsys, subcommand: str):
    config = write_config(tmp_path, make_manifest(per_split=4))
    not_a_checkpoint = write_jsonl(tmp_path / "new.jsonl", [{"id": "a"}])
    missing = tmp_path / "bst.ckpt"
    for path, expected in [
        (missing, f"ckpt_path: checkpoint not found: {missing}; give the .ckpt file"),
        (not_a_checkpoint, f"ckpt_path: {not_a_checkpoint} is not a checkpoint"),
    ]:
        run = [subcommand, "--config", str(config), "--ckpt_path", str(path)]
        message = rejected_args(run, capsys)
        assert f"mmlearn: error: {expected}" in message
        assert "Traceback" not in message


def test_predict_writes_one_record_per_sample(tmp_path: Path, make_manifest):
    config = write_config(tmp_path, make_manifest(per_split=4), data__predict_split="test")
    fit = run_cli(["fit", "--config", str(config)])
    checkpoint = fit.trainer.checkpoint_callback.best_model_path
    records = predict_records(tmp_path, config, checkpoint)
    assert [record["id"] for record in records] == [f"test-{i}" for i in range(4)]
    for record in records:
        assert record["category"] in ("cold", "warm")
        assert record["subcategory"] in ("a", "b")
        assert 0.5 <= record["category_probability"] <= 1.0
    # Each record carries the manifest's labels of its sample.
    rows = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    labels = {row["id"]: row for row in rows}
    for record in records:
        row = labels[record["id"]]
        # An empty label cell is left out.
        expected = {column: row[column] for column in ("category", "subcategory") if row[column]}
        assert record["target"] == expected


def test_later_runs_take_the_classes_from_the_checkpoint(tmp_path: Path, make_manifest, capsys):
    config = write_config(tmp_path, make_manifest(per_split=4), data__predict_split="test")
    fit = run_cli(["fit", "--config", str(config)])
    checkpoint = fit.trainer.checkpoint_callback.best_model_path
    rows = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]

    # Only warm samples: listed afresh, the classes would be [warm] alone.
    warm = write_jsonl(tmp_path / "warm.jsonl", [row for row in rows if row["category"] == "warm"])
    records = predict_records(tmp_path, config, checkpoint, "--data.manifest", str(warm))
    assert len(records) == 2
    assert all(record["category"] in ("cold", "warm") for record in records)

    # 'cold' renamed: listed afresh, [chilly, warm] would swap the two indices.
    for row in rows:
        row["category"] = row["category"].replace("cold", "chilly")
    renamed = write_jsonl(tmp_path / "renamed.jsonl", rows)
    test_run = ["test", "--config", str(config), "--ckpt_path", checkpoint]
    message = rejected_args([*test_run, "--data.manifest", str(renamed)], capsys)
    assert "label 'chilly' in column 'category' is not a declared class" in message
    assert "row 2 (id 'train-1')" in message

    message = rejected_args([*test_run, "--data.classes", '{"category": ["warm", "cold"]}'], capsys)
    assert "data.classes gives column 'category' the classes ['warm', 'cold']" in message
    assert "trained on ['cold', 'warm']" in message


def test_checkpoint_tasks_read_their_label_columns(tmp_path: Path, make_manifest, caplog):
    manifest = make_manifest(per_split=4)
    config = write_config(tmp_path, manifest, data__predict_split="test")
    fit = run_cli(["fit", "--config", str(config)])
    checkpoint = fit.trainer.checkpoint_callback.best_model_path

    # A config for the category task alone; the checkpoint's model also has subcategory.
    model = {**MODEL, "tasks": [{"name": "category"}]}
    older = write_config(tmp_path, manifest, model=model, data__labels=["category"])
    with caplog.at_level(logging.INFO):
        test = run_cli(["test", "--config", str(older), "--ckpt_path", checkpoint])
    assert "Label columns ['subcategory'] are read too" in caplog.text
    assert "test/subcategory/acc" in test.trainer.callback_metrics


def test_predict_on_new_data_without_labels(tmp_path: Path, make_manifest, capsys):
    config = write_config(tmp_path, make_manifest(per_split=4))
    fit = run_cli(["fit", "--config", str(config)])
    checkpoint = fit.trainer.checkpoint_callback.best_model_path
    rows = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    unlabeled = [{key: row[key] for key in ("id", "text", "image", "audio")} for row in rows[:3]]
    new = write_jsonl(tmp_path / "new.jsonl", unlabeled)

    splits = json.dumps({"predict": str(new)})
    records = predict_records(
        tmp_path, config, checkpoint, "--data.manifest", "null", "--data.splits", splits
    )
    assert [record["id"] for record in records] == ["train-0", "train-1", "train-2"]
    assert all(record["category"] in ("cold", "warm") for record in records)
    assert all(record["subcategory"] in ("a", "b") for record in records)
    assert all("target" not in record for record in records)

    # Without a checkpoint there are no classes to predict.
    predict = ["predict", "--config", str(config), "--data.manifest", "null"]
    message = rejected_args([*predict, "--data.splits", splits], capsys)
    assert f"label column 'category' in {new} has 0 class(es)" in message
    assert "give --ckpt_path to use the classes of a trained model" in message


def test_label_column_without_a_task_is_not_loaded(tmp_path: Path, make_manifest):
    rows = [json.loads(line) for line in make_manifest(per_split=4).read_text().splitlines()]
    for row in rows:
        row["subcategory"] = [row["subcategory"]]  # a multilabel form, read by no task
    manifest = write_jsonl(tmp_path / "manifest.jsonl", rows)
    model = {**MODEL, "tasks": [{"name": "category"}]}
    config = write_config(tmp_path, manifest, model=model)
    with pytest.warns(UserWarning, match=r"data.labels lists \['subcategory'\], which no task"):
        fit = run_cli(["fit", "--config", str(config)])
    assert fit.datamodule.labels == ["category"]
    assert fit.trainer.global_step == 1


def test_multilabel_regression_and_contrastive_tasks(tmp_path: Path, make_manifest):
    rows = [json.loads(line) for line in make_manifest(per_split=4).read_text().splitlines()]
    for index, row in enumerate(rows):
        warm = row["category"] == "warm"
        if warm:
            row["tags"] = ["red", "round"]
        else:
            row["tags"] = ["blue"] if index % 3 else []
        row["size"] = 1.5 if warm else -0.5
        if index % 5 == 4:
            row["size"] = None
    manifest = write_jsonl(tmp_path / "tasks.jsonl", rows)
    model = dict(MODEL)
    model["tasks"] = [
        {"name": "category"},
        {"name": "tags", "type": "multilabel"},
        {"name": "size", "type": "regression"},
        {"name": "align", "type": "contrastive", "modalities": ["text", "image"]},
    ]
    config = write_config(tmp_path, manifest, model, data__labels=["category", "tags", "size"])
    fit = run_cli(["fit", "--config", str(config)])
    # The task types reached the data through the CLI link.
    assert fit.datamodule.label_types == {
        "category": "multiclass",
        "tags": "multilabel",
        "size": "regression",
    }
    assert fit.datamodule.class_names["tags"] == ["blue", "red", "round"]
    checkpoint = fit.trainer.checkpoint_callback.best_model_path
    test = run_cli(["test", "--config", str(config), "--ckpt_path", checkpoint])
    metrics = test.trainer.callback_metrics
    for key in ["test/tags/map", "test/tags/f1/round", "test/size/mae", "test/align/r1"]:
        assert torch.isfinite(metrics[key])
    # The 4 test rows give 4 caption-picture pairs, so each partner is in the top 10.
    assert float(metrics["test/align/r10"]) == 1.0

    records = predict_records(tmp_path, config, checkpoint, "--data.predict_split", "test")
    assert len(records) == 4
    assert all(set(r["tags"]) <= {"blue", "red", "round"} for r in records)
    assert all(isinstance(r["size"], float) for r in records)
    assert "align" not in records[0]


def test_wandb_logger_offline(tmp_path: Path, make_manifest, monkeypatch):
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    config = write_config(tmp_path, make_manifest(per_split=4))
    cli = run_cli(
        [
            "fit",
            "--config",
            str(config),
            *wandb_logger_flags(tmp_path / "wandb_runs"),
            "--trainer.logger.offline",
            "true",
        ]
    )
    # Finish the run, or the next WandbLogger in this process would reuse it.
    cli.trainer.logger.experiment.finish()
    assert type(cli.trainer.logger).__name__ == "WandbLogger"
    runs = list((tmp_path / "wandb_runs" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    assert list(runs[0].glob("*.wandb")), "the offline run has no event file to sync"


def test_wandb_offline_without_api_key(tmp_path: Path, make_manifest, monkeypatch, caplog):
    # No key in the environment and no ~/.netrc: the run must go offline, not prompt.
    for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    manifest = make_manifest(per_split=4)
    config = write_config(tmp_path, manifest)
    with caplog.at_level(logging.INFO):
        cli = run_cli(
            [
                "fit",
                "--config",
                str(config),
                *wandb_logger_flags(tmp_path / "wandb_runs"),
            ]
        )
    notes = [r.getMessage() for r in caplog.records if "W&B: no API key" in r.getMessage()]
    assert len(notes) == 1
    assert "wandb sync" in notes[0]
    run = cli.trainer.logger.experiment
    try:
        assert run.settings.mode in ("offline", "dryrun")  # W&B calls offline "dryrun"
        run_folder = Path(run.dir).parent
        assert run_folder.name.startswith("offline-run-")
        assert run_folder.parent == tmp_path / "wandb_runs" / "wandb"
        provenance = run.config["run"]
        assert provenance["versions"]["torch"] == torch.__version__.split("+")[0]
        digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
        assert provenance["manifest_sha256"] == {str(manifest): digest}
        assert set(provenance["git"]) == {"commit", "uncommitted_changes"}
        assert run.config["config"]["data"]["manifest"] == str(manifest)
        assert run.config["config"]["model"]["fusion"]["kind"] == "concat"
    finally:
        run.finish()


@pytest.mark.tuxpaint
@pytest.mark.skipif(not TUXPAINT_ROOT.is_dir(), reason="tuxpaint-stamps-default is not installed")
def test_fit_and_test_on_real_stamps(tmp_path: Path):
    full = tmp_path / "full.jsonl"
    build_tuxpaint_manifest(full, TUXPAINT_ROOT)
    rows = [json.loads(line) for line in full.read_text().splitlines()]
    # Two stamps of each of four categories per split keep the run short.
    subset = []
    for split in ("train", "val", "test"):
        for category in ("animals", "food", "symbols", "town"):
            chosen = [r for r in rows if r["split"] == split and r["category"] == category]
            subset += chosen[:2]
    manifest = write_jsonl(tmp_path / "subset.jsonl", subset)
    config = write_config(tmp_path, manifest)
    fit = run_cli(["fit", "--config", str(config), "--trainer.fast_dev_run", "2"])
    assert fit.trainer.global_step == 2
    assert fit.datamodule.num_classes["category"] >= 2
    with pytest.warns(UserWarning, match="neither trained nor loaded"):
        test = run_cli(["test", "--config", str(config), "--trainer.fast_dev_run", "1"])
    assert 0.0 <= float(test.trainer.callback_metrics["test/category/acc"]) <= 1.0


@pytest.mark.parametrize("kind", ["attention", "low_rank", "cross_attention"])
def test_fusion_kind_from_the_command_line(tmp_path: Path, make_manifest, kind: str):
    config = write_config(tmp_path, make_manifest(per_split=4))
    cli = run_cli(
        ["fit", "--config", str(config), "--model.fusion.kind", kind, "--trainer.fast_dev_run", "1"]
    )
    assert cli.model.hparams["fusion"]["kind"] == kind
    assert (
        type(cli.model.model.fusion).__name__
        == {
            "attention": "AttentionFusion",
            "low_rank": "LowRankTensorFusion",
            "cross_attention": "CrossAttentionFusion",
        }[kind]
    )
    metrics = cli.trainer.callback_metrics
    assert torch.isfinite(metrics["train/loss_step"])
    assert ("train/fusion_weight/text" in metrics) == (kind == "attention")


@pytest.mark.parametrize("kind", ["uncertainty", "dwa", "gradnorm"])
def test_loss_weighting_from_the_command_line(tmp_path: Path, make_manifest, kind: str):
    config = write_config(
        tmp_path, make_manifest(per_split=8), trainer__max_epochs=3, trainer__log_every_n_steps=1
    )
    cli = run_cli(["fit", "--config", str(config), "--model.loss_weighting.kind", kind])
    assert cli.trainer.current_epoch == 3
    weighting = cli.model.loss_weighting
    assert (
        type(weighting).__name__
        == {
            "uncertainty": "UncertaintyWeighting",
            "dwa": "DynamicWeightAverage",
            "gradnorm": "GradNorm",
        }[kind]
    )
    # The CSV log has a weight per task for every training step.
    metrics = (tmp_path / "run" / "logs" / "version_0" / "metrics.csv").read_text()
    header = metrics.splitlines()[0].split(",")
    assert {"train/weight/category", "train/weight/subcategory"} <= set(header)
    rows = [line.split(",") for line in metrics.splitlines()[1:]]
    column = header.index("train/weight/category")
    weights = [float(row[column]) for row in rows if row[column]]
    assert len(weights) == 6  # 3 epochs of 2 steps
    if kind == "uncertainty":
        assert weights[0] == 1.0  # exp(-s) at s = 0
        assert weights[-1] != 1.0  # and s has moved since
    if kind == "dwa":
        assert not torch.isnan(weighting.history).any()  # two epochs of means are known
        assert weights[:4] == [1.0] * 4
        assert weights[4] != 1.0
    if kind == "gradnorm":
        assert weighting.weights.sum().item() == pytest.approx(2.0, rel=1e-4)
        assert weights[-1] != 1.0


def nan_audio_config(tmp_path: Path, make_manifest) -> Path:
    """A config whose one training sample has a clip full of NaN samples.

    The audio encoder is a GRU, which has no batch-norm statistics that the bad batch
    would spoil for the steps after it.
    """
    rows = [json.loads(line) for line in make_manifest(per_split=8).read_text().splitlines()]
    clip = np.full(8000, np.nan, np.float32)
    soundfile.write(tmp_path / "media" / "nan.wav", clip, 16000, subtype="FLOAT")
    rows[0]["audio"] = "media/nan.wav"  # train-0
    manifest = write_jsonl(tmp_path / "nan.jsonl", rows)
    model = dict(MODEL, audio_encoder={"kind": "gru", "hidden_size": 8, "num_layers": 1})
    return write_config(tmp_path, manifest, model, trainer__max_epochs=2)


def test_nonfinite_loss_stops_naming_tasks_and_step(tmp_path: Path, make_manifest, capsys):
    config = nan_audio_config(tmp_path, make_manifest)
    error = rejected_args(["fit", "--config", str(config)], capsys)
    assert "mmlearn: error: non-finite loss at training step" in error
    assert "category=nan" in error
    assert "subcategory=nan" in error
    assert "set model.on_nonfinite: skip" in error


def test_nonfinite_loss_skips_the_step_when_configured(tmp_path: Path, make_manifest):
    config = nan_audio_config(tmp_path, make_manifest)
    with pytest.warns(UserWarning, match="non-finite loss"):
        cli = run_cli(["fit", "--config", str(config), "--model.on_nonfinite", "skip"])
    # 2 epochs of 2 batches; the batch with the NaN clip is skipped in each. Had a
    # NaN gradient been applied, the weights would be NaN.
    assert cli.model.skipped_steps == 2
    assert all(torch.isfinite(p).all() for p in cli.model.parameters())
    assert float(cli.trainer.callback_metrics["train/skipped_steps"]) == 2.0


WORKER_PIPELINE = [
    "--data.audio_features=worker",
    "--data.num_workers=2",
    "--data.cache_dir=cache",
]


@pytest.mark.parametrize("pipeline", [[], WORKER_PIPELINE], ids=["device-features", "workers"])
def test_bf16_mixed_fit_on_cpu(tmp_path: Path, make_manifest, monkeypatch, pipeline: list[str]):
    # Lightning runs 16-mixed as bf16-mixed on a CPU, so only bf16 can be checked here.
    precision = "bf16-mixed"
    config = write_config(tmp_path, make_manifest(per_split=4))
    monkeypatch.chdir(tmp_path)
    cli = run_cli(
        [
            "fit",
            "--config",
            str(config),
            "--trainer.precision",
            precision,
            "--trainer.fast_dev_run",
            "2",
            *pipeline,
        ]
    )
    loss = cli.trainer.callback_metrics["train/loss_step"]
    assert torch.isfinite(loss)
    assert cli.trainer.precision == precision
    if pipeline:
        # The workers filled the cache with the two pictures and the two tones.
        assert len(list((tmp_path / "cache").rglob("*.npy"))) == 4


def test_undecodable_file_in_a_worker_is_one_error(
    tmp_path: Path, make_manifest, media_dir: Path, capsys
):
    rows = [json.loads(line) for line in make_manifest(per_split=4).read_text().splitlines()]
    (media_dir / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    rows[1]["image"] = "media/broken.png"  # train-1: exists, fails only when decoded
    config = write_config(tmp_path, write_jsonl(tmp_path / "broken.jsonl", rows))
    fit = ["fit", "--config", str(config), "--data.num_workers", "1"]
    message = rejected_args(fit, capsys)
    expected = "mmlearn: error: failed to decode image file "
    assert expected + f"{media_dir / 'broken.png'} (manifest row 2, id 'train-1')" in message
    assert "Traceback" not in message


class FailingDataset(torch.utils.data.Dataset):
    """A dataset whose every item raises ``error``, to check errors from workers."""

    def __init__(self, error: Exception):
        self.error = error

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int):
        raise self.error


@pytest.mark.parametrize(
    "error",
    [ConfigError("invalid value in row 3; fix it"), RuntimeError("not from mmlearn")],
    ids=["mmlearn", "other"],
)
def test_worker_error_message_unwraps_mmlearn_errors(error: Exception):
    loader = torch.utils.data.DataLoader(FailingDataset(error), num_workers=1)
    with pytest.raises(type(error)) as caught:
        next(iter(loader))
    expected = str(error) if isinstance(error, ConfigError) else None
    assert worker_error_message(caught.value) == expected


def test_skip_bad_rows_and_files_writes_report(tmp_path: Path, make_manifest, media_dir: Path):
    rows = [json.loads(line) for line in make_manifest(per_split=17).read_text().splitlines()]
    rows = rows[:50]  # 17 train, 17 val and 16 test rows
    rows[2]["image"] = "media/missing.png"  # file not found
    rows[5]["category"] = "lukewarm"  # not a declared class
    rows[20] = {**rows[20], "text": None, "image": None, "audio": None}  # no modality
    (media_dir / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    rows[17]["image"] = "media/broken.png"  # exists, fails only when decoded

    manifest = write_jsonl(tmp_path / "skip.jsonl", rows)
    report = tmp_path / "skipped.jsonl"
    config = write_config(
        tmp_path,
        manifest,
        data__on_error="skip",
        data__skipped_report=str(report),
        data__classes={"category": ["warm", "cold"]},
    )

    cli = run_cli(
        [
            "fit",
            "--config",
            str(config),
            "--trainer.limit_train_batches",
            "4",
            "--trainer.limit_val_batches",
            "4",
        ]
    )
    assert cli.trainer.global_step == 4

    records = [json.loads(line) for line in report.read_text().splitlines()]
    reasons = {record["id"]: record["reason"] for record in records}
    assert "image file not found" in reasons["train-2"]
    assert "'lukewarm'" in reasons["train-5"]
    assert "no text, image or audio" in reasons["val-3"]
    broken = [r for r in records if r["id"] == "val-0"]
    assert len(broken) == 1
    assert len(records) == 4
    assert "broken.png" in broken[0]["reason"]
    assert len(cli.datamodule.samples) == 47
