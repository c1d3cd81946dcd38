"""MultimodalModule: the LightningModule that trains a MultimodalModel on several tasks."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import lightning as L
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from mmlearn.errors import ConfigError, NonFiniteLossError, UnusedParametersError
from mmlearn.modalities import AUDIO, IMAGE, TEXT
from mmlearn.models.builder import build_multimodal_model
from mmlearn.models.encoders import AudioEncoderConfig, ImageEncoderConfig, TextEncoderConfig
from mmlearn.models.fusion import FusionConfig
from mmlearn.tasks import TaskConfig, build_task
from mmlearn.training.epoch_means import EpochMeans
from mmlearn.training.init_from import load_matching_weights
from mmlearn.training.optim import OptimizerConfig, build_optimizer
from mmlearn.training.rng_state import collect_rng_states, restore_rng_states
from mmlearn.training.weighting import WeightingConfig, build_weighting

STAGES = ("train", "val", "test")
# The parameter group of everything but the encoders, trained at optimizer.lr.
DEFAULT_LR_GROUP = "default"
ConfigT = TypeVar("ConfigT")


def _as_config(kind: type[ConfigT], value: ConfigT | Mapping[str, Any] | None) -> ConfigT | None:
    """Accept a dataclass or its dict form (as stored in checkpoint hyperparameters)."""
    if value is None or isinstance(value, kind):
        return value
    return kind(**value)


class MultimodalModule(L.LightningModule):
    """Train, validate and test a fused multimodal model on several weighted tasks.

    Parameters
    ----------
    tasks:
        The tasks; their names key the heads and the logged metrics.
    class_names:
        Classes of each manifest label column; the CLI links this from the DataModule.
    text_encoder:
        Text encoder settings (``TextEncoderConfig``); ``null`` leaves text out.
    image_encoder:
        Image encoder settings (``ImageEncoderConfig``); ``null`` leaves images out.
    audio_encoder:
        Audio encoder settings (``AudioEncoderConfig``); ``null`` leaves audio out.
    n_mels:
        Log-mel bands of the audio input; the CLI links it from the DataModule.
    image_size:
        Side in pixels of the image input; the CLI links it from the DataModule.
    embed_dim:
        The shared width each modality is projected to before fusion.
    fusion:
        The fusion strategy and its settings (``FusionConfig``), for example
        ``{kind: gated, hidden_dim: 256}``; concat fusion by default.
    modality_dropout:
        Probability per modality (``{text: 0.3}``) of hiding it from fusion for a
        training sample; see ``ModalityDropout``.
    unimodal_loss_weight:
        When positive, each modality gets its own heads on its projected feature, and
        their losses, averaged over modalities and scaled by this weight, join the
        total. This keeps the weaker encoders learning beside a strong one. The heads
        are used in training only; predictions come from the fused heads. With
        contrastive tasks alone there are no heads, so the weight has no effect.
    loss_weighting:
        How the task losses are weighted (``WeightingConfig``): ``{kind: static}`` by
        default, or ``uncertainty``, ``dwa`` or ``gradnorm``. Every scheme multiplies
        the task weights from ``tasks`` by its own.
    optimizer:
        AdamW and schedule settings; encoders may override the learning rate.
    on_nonfinite:
        What a NaN or infinite training loss does. ``raise`` stops the run with an
        error that names the tasks and the step. ``skip`` drops that step (a zero
        gradient and no optimizer step, so Lightning does not count it in
        ``global_step``), logs a warning, and counts the skipped steps in
        ``train/skipped_steps``. Under DDP every process drops the step when any one
        has a non-finite loss, or a batch whose samples all failed to decode.
        Batch-norm statistics have already seen the bad batch when it is dropped.
    init_from:
        A ``.ckpt`` file of an earlier fit, such as a contrastive pretraining, to take
        the starting weights from: every tensor with the same name and shape (see
        ``load_matching_weights``). It is not stored in the hyperparameters, since a
        checkpoint of this fit already contains the weights.

    Logged keys: ``<stage>/loss``, ``<stage>/<task>/loss`` and each task type's metrics
    (``<stage>/<task>/acc`` and ``<stage>/<task>/f1`` for multiclass) for the stages
    train, val and test, plus ``<stage>/unimodal_loss`` with unimodal heads. Fusion
    strategies with modality weights (mean, gated, attention, late) add
    ``<stage>/fusion_weight/<modality>``, the epoch's mean weight of that modality.
    Each training step logs ``train/loss_step`` (this process's loss),
    ``train/weight/<task>`` (the effective weight of each task) and
    ``train/lr/<group>``, the learning rate of each parameter group: one per trained
    encoder, named by its modality, and ``default`` for the rest.
    """

    def __init__(
        self,
        tasks: Sequence[TaskConfig],
        class_names: Mapping[str, Sequence[str]] | None = None,
        text_encoder: TextEncoderConfig | None = None,
        image_encoder: ImageEncoderConfig | None = None,
        audio_encoder: AudioEncoderConfig | None = None,
        n_mels: int = 64,
        image_size: int = 96,
        embed_dim: int = 128,
        fusion: FusionConfig | None = None,
        modality_dropout: Mapping[str, float] | None = None,
        unimodal_loss_weight: float = 0.0,
        loss_weighting: WeightingConfig | None = None,
        optimizer: OptimizerConfig | None = None,
        on_nonfinite: Literal["raise", "skip"] = "raise",
        init_from: str | None = None,
    ):
        super().__init__()
        self.tasks = [_as_config(TaskConfig, task) for task in tasks]
        self.text_config = _as_config(TextEncoderConfig, text_encoder)
        self.image_config = _as_config(ImageEncoderConfig, image_encoder)
        self.audio_config = _as_config(AudioEncoderConfig, audio_encoder)
        self.fusion_config = _as_config(FusionConfig, fusion) or FusionConfig()
        self.weighting_config = _as_config(WeightingConfig, loss_weighting) or WeightingConfig()
        self.optimizer_config = _as_config(OptimizerConfig, optimizer) or OptimizerConfig()
        if class_names is None:
            raise ConfigError(
                "model.class_names is missing; the CLI links it from the DataModule, and "
                "in Python pass class_names=datamodule.class_names"
            )
        self.class_names = {column: list(names) for column, names in class_names.items()}
        self._check_tasks()
        if on_nonfinite not in ("raise", "skip"):
            raise ConfigError(f"invalid model.on_nonfinite {on_nonfinite!r}; use 'raise' or 'skip'")
        self.on_nonfinite = on_nonfinite
        self.skipped_steps = 0
        if unimodal_loss_weight < 0:
            raise ConfigError(f"invalid unimodal_loss_weight {unimodal_loss_weight}; use 0 or more")

        # Plain values only, so checkpoints load without unpickling project classes.
        self.save_hyperparameters(
            {
                "tasks": [self._as_dict(task) for task in self.tasks],
                "class_names": self.class_names,
                "text_encoder": self._as_dict(self.text_config),
                "image_encoder": self._as_dict(self.image_config),
                "audio_encoder": self._as_dict(self.audio_config),
                "n_mels": n_mels,
                "image_size": image_size,
                "embed_dim": embed_dim,
                "fusion": self._as_dict(self.fusion_config),
                "modality_dropout": dict(modality_dropout or {}),
                "unimodal_loss_weight": unimodal_loss_weight,
                "loss_weighting": self._as_dict(self.weighting_config),
                "optimizer": self._as_dict(self.optimizer_config),
                "on_nonfinite": on_nonfinite,
            }
        )
        self.task_modules = nn.ModuleDict(
            {task.name: build_task(task, self.class_names) for task in self.tasks}
        )
        head_sizes = {
            name: task.head_size
            for name, task in self.task_modules.items()
            if task.head_size is not None
        }
        # Without a supervised task the unimodal heads would be empty and their loss 0.
        self.unimodal_loss_weight = unimodal_loss_weight if head_sizes else 0.0
        self.model = build_multimodal_model(
            head_sizes,
            self.text_config,
            self.image_config,
            self.audio_config,
            embed_dim,
            self.fusion_config,
            n_mels,
            image_size,
            modality_dropout,
            unimodal_heads=self.unimodal_loss_weight > 0,
        )
        if init_from is not None:
            rank_zero_info(load_matching_weights(self.model, init_from).summary(init_from))
        self.loss_weighting = build_weighting(
            self.weighting_config,
            {task.name: task.weight for task in self.tasks},
            self.model.fusion,
        )
        self._freeze_encoders()
        for stage in STAGES:
            collections = {
                task.name: self.task_modules[task.name].make_metrics(f"{stage}/{task.name}/")
                for task in self.tasks
            }
            setattr(self, f"{stage}_metrics", nn.ModuleDict(collections))
            setattr(self, f"{stage}_means", EpochMeans(self._epoch_mean_keys(stage)))
        self._check_unused = False
        self._drop_optimizer_step = False

    @staticmethod
    def _as_dict(config: Any) -> dict[str, Any] | None:
        # Lists, not tuples, so that hparams.yaml loads with yaml.safe_load.
        if config is None:
            return None
        return dataclasses.asdict(
            config,
            dict_factory=lambda items: {
                key: list(value) if isinstance(value, tuple) else value for key, value in items
            },
        )

    def _check_tasks(self) -> None:
        if not self.tasks:
            raise ConfigError("model.tasks is empty; declare at least one task")
        names = [task.name for task in self.tasks]
        if len(set(names)) != len(names):
            raise ConfigError(f"model.tasks has duplicate names: {names}")
        modalities = list(self._encoder_settings())
        for task in self.tasks:
            if "." in task.name or "/" in task.name:
                raise ConfigError(f"invalid task name {task.name!r}: it may not contain '.' or '/'")
            if not task.supervised:
                pair = list(task.modalities or [])
                if len(pair) != 2 or pair[0] == pair[1] or not set(pair) <= set(modalities):
                    raise ConfigError(
                        f"contrastive task {task.name!r} needs two different modalities the "
                        f"model encodes ({modalities}) in its modalities, got {pair}"
                    )
                continue
            if task.column not in self.class_names:
                raise ConfigError(
                    f"task {task.name!r} predicts label column {task.column!r}, which the data "
                    f"does not provide; data.labels has {sorted(self.class_names)}, so add "
                    f"{task.column!r} to it"
                )

    def _encoder_settings(self) -> dict[str, Any]:
        settings = {TEXT: self.text_config, IMAGE: self.image_config, AUDIO: self.audio_config}
        return {name: config for name, config in settings.items() if config is not None}

    def _freeze_encoders(self) -> None:
        for name, config in self._encoder_settings().items():
            if config.freeze:
                self.model.encoders[name].requires_grad_(False)

    @property
    def modalities(self) -> list[str]:
        """The modalities the model encodes."""
        return self.model.modalities

    def _epoch_mean_keys(self, stage: str) -> list[str]:
        """Return the keys logged as means over the epoch: the losses and fusion weights."""
        keys = [f"{stage}/loss", *(f"{stage}/{task.name}/loss" for task in self.tasks)]
        if self.unimodal_loss_weight > 0:
            keys.append(f"{stage}/unimodal_loss")
        if self.fusion_config.has_weights:
            keys += [f"{stage}/fusion_weight/{name}" for name in self.modalities]
        return keys

    def logged_metric_keys(self, stages: Sequence[str] = STAGES) -> list[str]:
        """Return every key this module logs in ``stages``."""
        keys = []
        for stage in stages:
            keys += self._epoch_mean_keys(stage)
            if stage == "train":
                keys.append("train/loss_step")
                groups = [name for name, c in self._encoder_settings().items() if not c.freeze]
                keys += [f"train/lr/{name}" for name in [*groups, DEFAULT_LR_GROUP]]
                keys += [f"train/weight/{task.name}" for task in self.tasks]
                if self.on_nonfinite == "skip":
                    keys.append("train/skipped_steps")
            for task in self.tasks:
                keys += [
                    f"{stage}/{task.name}/{metric}"
                    for metric in self.task_modules[task.name].metric_names
                ]
        return keys

    def check_monitored_keys(self) -> None:
        """Raise if EarlyStopping or ModelCheckpoint monitors a key that this module never logs.

        Lightning itself notices only after the first validation epoch.
        """
        logged = self.logged_metric_keys(("train", "val"))
        unlogged = [
            (type(callback).__name__, callback.monitor)
            for callback in self.trainer.callbacks
            if isinstance(callback, (EarlyStopping, ModelCheckpoint))
            and callback.monitor is not None
            and callback.monitor not in logged
        ]
        if not unlogged:
            return
        named = " and ".join(f"{name} monitors {monitor!r}" for name, monitor in unlogged)
        close = difflib.get_close_matches(unlogged[0][1], logged, n=1)
        nearest = f" Did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"{named}, which the module never logs. The keys logged during fit are: "
            f"{', '.join(logged)}. Set each monitor to one of them.{nearest}"
        )

    def setup(self, stage: str) -> None:
        if stage == "fit":
            self.check_monitored_keys()

    def forward(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        return self.model(batch)

    def model_step(
        self, batch: Mapping[str, Any], stage: str, batch_idx: int = 0
    ) -> torch.Tensor | None:
        """Run the model, compute the weighted task losses and update the stage's metrics.

        Returns None for a validation or test batch whose samples were all skipped. A
        training step that must be dropped (no samples on some process, or a
        non-finite loss with ``on_nonfinite: skip``) returns a zero loss instead and
        leaves the weights unchanged.
        """
        if not batch["ids"]:
            if stage == "train":
                # The other processes run this step; they learn here that it is dropped.
                self._agree_to_skip(empty=True, nonfinite=False)
                return self._dropped_step_loss()
            return None
        outputs = self.model(batch)
        batch_size = len(batch["ids"])
        metrics = getattr(self, f"{stage}_metrics")
        means = getattr(self, f"{stage}_means")
        losses, has_labels, scored = {}, {}, {}
        for name, task in self.task_modules.items():
            prediction, targets = task.prediction(outputs), task.targets(batch)
            losses[name] = task.loss(prediction, targets)
            count = int(task.labelled(targets).sum())
            has_labels[name] = count > 0
            scored[name] = (prediction, targets, count)
        unimodal = None
        if self.unimodal_loss_weight > 0:
            unimodal = self.unimodal_loss(outputs, batch)
        if stage == "train" and self._skip_training_step(losses, unimodal, batch_idx):
            return self._dropped_step_loss()

        for name, (prediction, targets, count) in scored.items():
            if count == 0:
                continue
            means.update(f"{stage}/{name}/loss", losses[name], count)
            self.task_modules[name].update_metrics(metrics[name], prediction, targets)
        weighted = self.loss_weighting(losses, has_labels)
        total = weighted.total
        if stage == "train":
            for name, weight in weighted.weights.items():
                self.log(f"train/weight/{name}", weight, on_step=True, on_epoch=False)
        if outputs["fusion_weights"] is not None:
            for index, name in enumerate(self.modalities):
                weight = outputs["fusion_weights"][:, index].mean()
                means.update(f"{stage}/fusion_weight/{name}", weight, batch_size)
        if unimodal is not None:
            means.update(f"{stage}/unimodal_loss", unimodal, batch_size)
            total = total + self.unimodal_loss_weight * unimodal
        means.update(f"{stage}/loss", total, batch_size)
        if stage == "train":
            # This process's value only: a sync here would cost an all-reduce per step.
            self.log("train/loss_step", total, on_step=True, on_epoch=False, prog_bar=True)
        if weighted.auxiliary is not None:
            return total + weighted.auxiliary
        return total

    def unimodal_loss(self, outputs: Mapping[str, Any], batch: Mapping[str, Any]) -> torch.Tensor:
        """Return the task-weighted loss of the unimodal heads, averaged over modalities.

        A sample counts for a modality's heads only if it has that modality.
        """
        losses = []
        for name, logits_per_task in outputs["unimodal_logits"].items():
            present = batch["present"][name]
            loss = torch.zeros((), device=self.device)
            for config in self.tasks:
                if config.name not in logits_per_task:
                    continue  # a task without a head, such as a contrastive one
                task = self.task_modules[config.name]
                targets = task.without(task.targets(batch), ~present)
                prediction = task.prediction({"logits": logits_per_task})
                loss = loss + config.weight * task.loss(prediction, targets)
            losses.append(loss)
        return torch.stack(losses).mean()

    def _warn_if_untrained(self, stage: str) -> None:
        if self.trainer.ckpt_path is None and self.trainer.global_step == 0:
            rank_zero_warn(
                f"Running {stage} with weights that were neither trained nor loaded; pass "
                "--ckpt_path with a checkpoint from fit, for example .../checkpoints/best.ckpt"
            )

    def on_test_start(self) -> None:
        self._warn_if_untrained("test")

    def on_predict_start(self) -> None:
        self._warn_if_untrained("predict")

    def _log_epoch_metrics(self, stage: str) -> None:
        """Log the stage's epoch means and each task's metrics, then reset them.

        Task metrics are computed here rather than handed to ``self.log`` because some
        return several values (per-class F1, recall at several k). ``compute`` gathers
        the state of every process, so every process gets the same values, and
        ``sync_dist`` averages those equal values, which keeps Lightning from warning.
        """
        means = getattr(self, f"{stage}_means")
        metrics = getattr(self, f"{stage}_metrics")
        # compute() is a collective call, so the processes agree first on which keys
        # got a value on any of them: a task may have no labelled sample on one.
        counts = self.trainer.strategy.reduce(means.updated().to(self.device), reduce_op="sum")
        values = {}
        for key, count in zip(means.keys, counts.tolist(), strict=True):
            if count > 0:
                values[key] = means.compute(key)
        for task in self.tasks:
            if f"{stage}/{task.name}/loss" in values:
                values.update(metrics[task.name].compute())
            metrics[task.name].reset()
        means.reset()
        total = values.pop(f"{stage}/loss", None)
        if total is not None:
            self.log(f"{stage}/loss", total, prog_bar=True, sync_dist=True)
        if values:
            self.log_dict(values, sync_dist=True)

    def on_train_epoch_end(self) -> None:
        self._log_epoch_metrics("train")
        self.loss_weighting.end_epoch()

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test")

    def on_train_start(self) -> None:
        # The sanity check runs validation batches before training; drop their state.
        for collection in self.val_metrics.values():
            collection.reset()
        self.val_means.reset()
        wrapped = self.trainer.strategy.model
        self._check_unused = (
            isinstance(wrapped, DistributedDataParallel) and not wrapped.find_unused_parameters
        )

    def on_after_backward(self) -> None:
        """Under DDP without ``find_unused_parameters``, name the modules that got no gradient.

        PyTorch's DDP (2.x) fails only at the next step, with parameter indices and no
        names unless TORCH_DISTRIBUTED_DEBUG is set.
        """
        if not self._check_unused:
            return
        unused = [
            name
            for name, parameter in self.named_parameters()
            if parameter.requires_grad and parameter.grad is None
        ]
        if unused:
            raise UnusedParametersError(unused, self.global_step, self.trainer.global_rank)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # A resumed run continues with the same shuffling, dropout and crops.
        checkpoint["rng_states"] = collect_rng_states()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Restore the random generators when ``fit`` resumes from ``checkpoint``.

        Lightning restores the checkpoint before it creates the first training batch,
        and it runs the sanity check with the generators set aside, so the resumed run
        draws the numbers that the uninterrupted run drew after saving the checkpoint.
        """
        states = checkpoint.get("rng_states")
        trainer = self._trainer
        if states is not None and trainer is not None and trainer.state.fn == "fit":
            # NOTE: every process gets rank zero's states, and DataLoader workers that
            # persisted across epochs in the interrupted run are started afresh, so
            # their random crops can differ from an uninterrupted run.
            restore_rng_states(states)

    def _dropped_step_loss(self) -> torch.Tensor:
        """Return a zero loss that gives every trained parameter a zero gradient, and drop the step.

        Lightning rejects a training step that returns None under DDP, and every
        process must run the backward pass for the gradient all-reduce to finish.
        ``optimizer_step`` then leaves the weights and the optimizer state as they are.
        """
        self._drop_optimizer_step = True
        trained = [p.sum() for p in self.parameters() if p.requires_grad]
        return torch.stack(trained).sum().float() * 0.0

    def optimizer_step(
        self,
        epoch: int,
        batch_idx: int,
        optimizer: Any,
        optimizer_closure: Callable[[], Any] | None = None,
    ) -> None:
        if optimizer_closure is None:
            super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)
            return
        # The closure runs training_step and the backward pass, which decide the drop.
        result = optimizer_closure()
        if self._drop_optimizer_step:
            self._drop_optimizer_step = False
            return
        optimizer.step(closure=lambda: result)

    def _agree_to_skip(self, empty: bool, nonfinite: bool) -> tuple[bool, bool]:
        """Return whether any process has an empty batch, and whether any has a non-finite loss.

        Every process must take the same decision, or DDP waits for gradients forever.
        """
        flags = torch.tensor([float(empty), float(nonfinite)], device=self.device)
        flags = self.trainer.strategy.reduce(flags, reduce_op="sum")
        return bool(flags[0] > 0), bool(flags[1] > 0)

    def _skip_training_step(
        self, losses: Mapping[str, torch.Tensor], unimodal: torch.Tensor | None, batch_idx: int
    ) -> bool:
        """Return True if this training step must be skipped on every process.

        That is the case when another process's batch lost all its samples to decoding
        errors, or when a loss is not finite and ``on_nonfinite`` is ``skip``. Raises
        ``NonFiniteLossError`` instead when ``on_nonfinite`` is ``raise``.
        """
        named = dict(losses)
        if unimodal is not None:
            named["unimodal heads"] = unimodal
        bad = [name for name, loss in named.items() if not bool(torch.isfinite(loss))]
        any_empty, any_bad = self._agree_to_skip(empty=False, nonfinite=bool(bad))
        where = f"training step {self.global_step} (epoch {self.current_epoch}, batch {batch_idx})"
        if any_empty and not any_bad:
            rank_zero_warn(
                f"Skipping {where} on every process: on one, all samples of the batch "
                "failed to decode (see the skipped-samples report)"
            )
            return True
        if not any_bad:
            return False
        values = ", ".join(f"{name}={float(named[name])}" for name in bad) or "on another process"
        if self.on_nonfinite == "raise":
            raise NonFiniteLossError(
                f"non-finite loss at {where}: {values}. Check the inputs of this batch for "
                "NaN or infinite values, lower the learning rate, or prefer bf16-mixed to "
                "16-mixed; set model.on_nonfinite: skip to drop such steps instead"
            )
        self.skipped_steps += 1
        rank_zero_warn(f"Skipping {where}: non-finite loss ({values})")
        self.log("train/skipped_steps", float(self.skipped_steps), on_step=True, on_epoch=False)
        return True

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # Frozen encoders have no parameter group, so they log no learning rate.
        for group in self.optimizers().optimizer.param_groups:
            self.log(f"train/lr/{group['name']}", group["lr"], on_step=True, on_epoch=False)

    def training_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor | None:
        return self.model_step(batch, "train", batch_idx)

    def validation_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor | None:
        return self.model_step(batch, "val")

    def test_step(self, batch: Mapping[str, Any], batch_idx: int) -> torch.Tensor | None:
        return self.model_step(batch, "test")

    def predict_step(self, batch: Mapping[str, Any], batch_idx: int) -> list[dict[str, Any]]:
        """Return one record per sample: its id and each supervised task's prediction.

        A multiclass task gives its class and probability, a multilabel task its
        classes and every class's probability, a regression task its value. With
        contrastive tasks, ``embedding`` maps each modality they align to its
        L2-normalized projected feature, or None where the sample lacks it, so that a
        dot product of two embeddings is their cosine similarity.
        """
        if not batch["ids"]:
            return []
        outputs = self.model(batch)
        records: list[dict[str, Any]] = [{"id": sample_id} for sample_id in batch["ids"]]
        for config in self.tasks:
            if not config.supervised:
                continue
            task = self.task_modules[config.name]
            predicted = task.predict(task.prediction(outputs), self.class_names[config.column])
            for record, fields in zip(records, predicted, strict=True):
                record.update(fields)
        aligned = {
            name
            for config in self.tasks
            if not config.supervised
            for name in config.modalities or ()
        }
        for name in sorted(aligned):
            vectors = nn.functional.normalize(outputs["features"][name].float(), dim=-1)
            present = batch["present"][name].tolist()
            for record, vector, is_present in zip(records, vectors.tolist(), present, strict=True):
                record.setdefault("embedding", {})[name] = vector if is_present else None
        return records

    def configure_optimizers(self) -> dict[str, Any]:
        groups: list[tuple[str, nn.Module, float | None]] = []
        for name, config in self._encoder_settings().items():
            groups.append((name, self.model.encoders[name], config.lr))
        others = nn.ModuleList(
            [
                self.model.projections,
                self.model.fusion,
                self.model.heads,
                self.model.unimodal_heads,
                self.task_modules,
                self.loss_weighting,
            ]
        )
        groups.append((DEFAULT_LR_GROUP, others, None))
        total_steps = int(self.trainer.estimated_stepping_batches)
        optimizer, scheduler = build_optimizer(groups, self.optimizer_config, total_steps)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
