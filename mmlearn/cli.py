"""The ``mmlearn`` command: LightningCLI subcommands plus ``mmlearn data ...`` builders.

``mmlearn fit|validate|test|predict --config ...`` runs Lightning's CLI with
``MultimodalModule`` and ``MultimodalDataModule``. Values known only once the data is
read (class names) and input settings (tokenizer, log-mel size, image size, which
modalities to load) are linked between the two, so a config states each fact once.
"""

from __future__ import annotations

import argparse
import logging
import netrc
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch.distributed as dist
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities.exceptions import SIGTERMException
from lightning.pytorch.utilities.rank_zero import rank_zero_info, rank_zero_warn

from mmlearn import __version__
from mmlearn.callbacks import (
    ExceptionCheckpoint,
    FlatModelCheckpoint,
    PredictionWriter,
    RunMetadataConfig,
)
from mmlearn.callbacks.run_metadata import stored_class_names, stored_wandb_run_id
from mmlearn.checkpoint_file import check_ckpt_path
from mmlearn.cli_parser import SuggestingArgumentParser, replace_on_override
from mmlearn.data.datamodule import MultimodalDataModule
from mmlearn.errors import ConfigError, MmlearnError
from mmlearn.modalities import AUDIO, IMAGE, TEXT
from mmlearn.training.module import MultimodalModule


def wandb_credentials_found() -> bool:
    """Return whether W&B can authenticate: an API key in the environment or ~/.netrc."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        return netrc.netrc().authenticators(host or "api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


def modalities_of(text: Any, image: Any, audio: Any) -> list[str]:
    """Return the modalities whose encoder settings are not null."""
    settings = {TEXT: text, IMAGE: image, AUDIO: audio}
    return [name for name, value in settings.items() if value is not None]


def label_types_of(tasks: Any) -> dict[str, str]:
    """Return the type of each label column that a supervised task in ``tasks`` reads."""
    types = {}
    for task in tasks or []:
        # A task may arrive as a dataclass, a namespace or a plain dict.
        settings = getattr(task, "init_args", task)
        if isinstance(settings, dict):
            settings = argparse.Namespace(**settings)
        kind = getattr(settings, "type", None) or "multiclass"
        if kind != "contrastive":
            column = getattr(settings, "label", None) or settings.name
            types[column] = kind
    return types


def tokenizer_of(text: Any) -> str | None:
    """Return the text encoder's model name, whose tokenizer the data must use."""
    if text is None:
        return None
    # jsonargparse gives an optional dataclass as a namespace with class_path and init_args.
    settings = getattr(text, "init_args", text)
    return getattr(settings, "model_name_or_path", None)


class MultimodalCLI(LightningCLI):
    """LightningCLI with the links between data and model, and default callbacks."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(FlatModelCheckpoint, "checkpoint")
        parser.add_lightning_class_args(ExceptionCheckpoint, "exception_checkpoint")
        parser.link_arguments("checkpoint.dirpath", "exception_checkpoint.dirpath")
        parser.add_lightning_class_args(EarlyStopping, "early_stopping")
        parser.add_lightning_class_args(PredictionWriter, "prediction_writer")
        parser.set_defaults(
            {
                "checkpoint.monitor": "val/loss",
                "checkpoint.mode": "min",
                "checkpoint.save_last": True,
                "early_stopping.monitor": "val/loss",
                "early_stopping.mode": "min",
                "early_stopping.patience": 5,
            }
        )
        parser.link_arguments(
            ("model.text_encoder", "model.image_encoder", "model.audio_encoder"),
            "data.modalities",
            compute_fn=modalities_of,
        )
        parser.link_arguments("model.text_encoder", "data.tokenizer", compute_fn=tokenizer_of)
        replace_on_override(parser, "model.tasks")
        parser.link_arguments("model.tasks", "data.label_types", compute_fn=label_types_of)
        parser.link_arguments("data.n_mels", "model.n_mels")
        parser.link_arguments("data.image_size", "model.image_size")
        parser.link_arguments("data.class_names", "model.class_names", apply_on="instantiate")

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        super().parse_arguments(parser, args)
        # Lightning reads the checkpoint's hyperparameters next. A missing file would
        # go unnoticed until the trainer starts, and a file that is not a checkpoint
        # would fail with torch's advice to load it with weights_only=False.
        subcommand = self.config.get("subcommand")
        if subcommand:
            check_ckpt_path(self.config[subcommand].get("ckpt_path"))

    def before_instantiate_classes(self) -> None:
        """Prepare each W&B logger: offline mode without credentials, and run resumption.

        Without the first, W&B would wait for a login prompt or fail at the first
        upload. ``WANDB_MODE`` set by the user, or ``offline: true``, is left as it is.
        For ``fit --ckpt_path``, a logger without an ``id`` continues the W&B run that
        wrote the checkpoint. ``fit --ckpt_path last`` takes the newer of ``last.ckpt``
        and the ``on_exception.ckpt`` that ``ExceptionCheckpoint`` writes.
        """
        config = self.config.get(self.subcommand) if self.subcommand else self.config
        if config is None:
            return
        if self.subcommand == "fit":
            self._resolve_last_checkpoint(config)
        checkpoint = config.get("ckpt_path")
        if not (checkpoint and Path(checkpoint).is_file()):
            checkpoint = None
        if checkpoint is not None:
            # LightningCLI 2.6 has already replaced the model settings with the checkpoint's.
            rank_zero_info(
                f"Model settings come from the hyperparameters stored in {checkpoint}; "
                "model keys in the config files and flags do not apply"
            )
        self._match_labels_to_tasks(config, checkpoint)
        if checkpoint is not None:
            self._take_classes_from(config, checkpoint)
            # The checkpoint contains the weights, so the pretraining file need not exist.
            config["model.init_from"] = None
        logger = config.get("trainer.logger")
        for entry in logger if isinstance(logger, list) else [logger]:
            class_path = str(getattr(entry, "class_path", "") or "")
            if not class_path.endswith("WandbLogger"):
                continue
            settings = entry.init_args
            self._go_offline_without_credentials(settings)
            if self.subcommand == "fit" and not (settings.get("id") or settings.get("version")):
                self._continue_wandb_run(config, settings)

    def after_fit(self) -> None:
        """Log where the fit wrote its checkpoints and its logs."""
        checkpoint = self.trainer.checkpoint_callback
        if isinstance(checkpoint, ModelCheckpoint) and checkpoint.best_model_path:
            score = checkpoint.best_model_score
            measured = f" ({checkpoint.monitor} {float(score):.4f})" if score is not None else ""
            rank_zero_info(f"Best checkpoint{measured}: {checkpoint.best_model_path}")
        if isinstance(checkpoint, ModelCheckpoint) and checkpoint.last_model_path:
            rank_zero_info(f"Last checkpoint: {checkpoint.last_model_path}")
        log_dir = self.trainer.log_dir
        if log_dir is not None:
            rank_zero_info(f"Logs: {log_dir}")

    @staticmethod
    def _match_labels_to_tasks(config: Any, checkpoint: str | None) -> None:
        """Drop data.labels columns that no task reads, and add a checkpoint's columns.

        A column that no task reads would still be checked as a multiclass label, and a
        multilabel or numeric column would then fail on every row. A checkpoint's tasks
        may read columns that an older config's data.labels lacks.
        """
        read = label_types_of(config.get("model.tasks"))
        labels = list(config.get("data.labels") or [])
        unread = [column for column in labels if column not in read]
        missing = [column for column in read if column not in labels] if checkpoint else []
        if unread:
            rank_zero_warn(
                f"data.labels lists {unread}, which no task in model.tasks reads; "
                "these columns are not loaded"
            )
        if missing:
            rank_zero_info(f"Label columns {missing} are read too, for the tasks in {checkpoint}")
        if unread or missing:
            config["data.labels"] = [column for column in labels if column in read] + missing

    @staticmethod
    def _take_classes_from(config: Any, checkpoint: str) -> None:
        # The data would otherwise list its classes afresh from the manifest, and a
        # manifest with a class renamed, added or missing would shift every index.
        stored = stored_class_names(checkpoint)
        declared = dict(config.get("data.classes") or {})
        column_counts = []
        for column in config.get("data.labels") or []:
            names = stored.get(column)
            if not names:
                continue
            if column in declared and list(declared[column]) != names:
                raise ConfigError(
                    f"data.classes gives column {column!r} the classes "
                    f"{list(declared[column])}, but the model in {checkpoint} was trained "
                    f"on {names}; remove data.classes.{column} to use the model's classes"
                )
            declared[column] = names
            column_counts.append(f"{column} ({len(names)})")
        if column_counts:
            config["data.classes"] = declared
            rank_zero_info(f"Classes come from {checkpoint}: {', '.join(column_counts)}")

    @staticmethod
    def _resolve_last_checkpoint(config: Any) -> None:
        if config.get("ckpt_path") != "last":
            return
        checkpoint = resolve_checkpoint("last", config.get("checkpoint.dirpath"))
        if checkpoint is not None:
            config["ckpt_path"] = str(checkpoint)
            rank_zero_info(f"Resuming from {checkpoint}")

    @staticmethod
    def _go_offline_without_credentials(settings: Any) -> None:
        if settings.get("offline") or os.environ.get("WANDB_MODE") or wandb_credentials_found():
            return
        os.environ["WANDB_MODE"] = "offline"
        save_dir = settings.get("save_dir") or "."
        rank_zero_info(
            "W&B: no API key (WANDB_API_KEY or `wandb login`), so this run is logged "
            f"offline under {Path(save_dir) / 'wandb'}; upload it later with "
            "`wandb sync <run folder>`"
        )

    @staticmethod
    def _continue_wandb_run(config: Any, settings: Any) -> None:
        checkpoint = resolve_checkpoint(config.get("ckpt_path"), config.get("checkpoint.dirpath"))
        run_id = stored_wandb_run_id(checkpoint) if checkpoint is not None else None
        if run_id is not None:
            settings["id"] = run_id
            rank_zero_info(f"W&B: continuing run {run_id}, which wrote {checkpoint}")


def resolve_checkpoint(ckpt_path: str | None, dirpath: str | None) -> Path | None:
    """Return the checkpoint file that ``--ckpt_path`` names, or None if it names no file.

    ``last`` is the newer of ``last.ckpt`` and ``on_exception.ckpt`` in the checkpoint
    folder. Lightning's other special values (``best``, ``hpc``, ``registry``) resolve
    to None.
    """
    if ckpt_path is None:
        return None
    if ckpt_path != "last":
        path = Path(ckpt_path)
        return path if path.is_file() else None
    if not dirpath:
        return None
    names = ("last.ckpt", ExceptionCheckpoint.FILENAME)
    found = [Path(dirpath) / name for name in names if (Path(dirpath) / name).is_file()]
    return max(found, key=lambda path: path.stat().st_mtime, default=None)


def build_data(argv: list[str]) -> int:
    """Run ``mmlearn data <source> ...``: write a manifest from a dataset on disk."""
    from mmlearn.data.sources.tuxpaint import DEFAULT_ROOT, build_tuxpaint_manifest

    parser = argparse.ArgumentParser(prog="mmlearn data", description="Write sample manifests.")
    sources = parser.add_subparsers(dest="source", required=True)
    tux = sources.add_parser("tuxpaint", help="the Tux Paint stamps: picture, caption, speech")
    tux.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="stamps folder")
    tux.add_argument(
        "--out", type=Path, default=Path("data/tuxpaint/manifest.jsonl"), help="manifest to write"
    )
    tux.add_argument("--text-lang", default="en", help="caption language code (default: en)")
    tux.add_argument("--audio-lang", default="fr", help="spoken caption language (default: fr)")
    tux.add_argument("--seed", type=int, default=0, help="split seed (default: 0)")
    tux.add_argument("--val", type=float, default=0.15, help="validation share (default: 0.15)")
    tux.add_argument("--test", type=float, default=0.15, help="test share (default: 0.15)")
    args = parser.parse_args(argv)

    if not 0 <= args.val < 1 or not 0 <= args.test < 1 or args.val + args.test >= 1:
        parser.error("--val and --test must be shares in [0, 1) that sum to less than 1")
    fractions = {"train": 1 - args.val - args.test, "val": args.val, "test": args.test}
    metadata = build_tuxpaint_manifest(
        args.out, args.root, args.text_lang, args.audio_lang, args.seed, fractions
    )
    print(
        f"Wrote {metadata['samples']} samples to {args.out} "
        f"(splits {metadata['split_sizes']}, seed {args.seed}; "
        f"{metadata['without_text']} without text, {metadata['without_audio']} without audio)"
    )
    return 0


CLI_DESCRIPTION = (
    "Train, evaluate and apply fused text, image and audio models. "
    "`mmlearn data tuxpaint` writes the manifest of the Tux Paint stamps; "
    "`mmlearn fit --help` lists every setting."
)


def run_cli(argv: list[str] | None) -> MultimodalCLI:
    """Run a Lightning subcommand (``fit``, ``test``, ...) and return the finished CLI.

    ``argv`` of None reads the command line.
    """
    return MultimodalCLI(
        MultimodalModule,
        MultimodalDataModule,
        args=argv,
        save_config_callback=RunMetadataConfig,
        save_config_kwargs={"overwrite": True},
        parser_class=SuggestingArgumentParser,
        # The module builds its optimizer from model.optimizer; a top-level --optimizer
        # would replace it and lose the per-encoder learning rates.
        auto_configure_optimizers=False,
        parser_kwargs={
            # argparse would take a prefix such as --trainer.max_epoch for --trainer.max_epochs.
            "allow_abbrev": False,
            "description": CLI_DESCRIPTION,
            "version": __version__,
            "prog": "mmlearn",
        },
    )


# torch re-raises an error from a DataLoader worker as a RuntimeError whose message
# is the worker's traceback, ending with the last error's type and message.
# NOTE: that message format is torch's (checked on 2.14), not a public interface.
WORKER_ERROR = re.compile(
    r"^Caught \w+ in DataLoader worker process.*^mmlearn\.errors\.\w+: (.*)", re.S | re.M
)


def worker_error_message(error: BaseException) -> str | None:
    """Return the message of an mmlearn error that a DataLoader worker raised, or None."""
    found = WORKER_ERROR.match(str(error))
    return found.group(1).strip() if found else None


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``mmlearn`` console script."""
    words = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if words and words[0] == "data":
            sys.exit(build_data(words[1:]))
        run_cli(argv)
    except MmlearnError as error:
        # An error that takes one message, raised in a worker, comes back as its own
        # type with the worker's traceback as the message.
        print(f"mmlearn: error: {worker_error_message(error) or error}", file=sys.stderr)
        sys.exit(2)
    except RuntimeError as error:
        message = worker_error_message(error)
        if message is None:
            raise
        print(f"mmlearn: error: {message}", file=sys.stderr)
        sys.exit(2)
    except SIGTERMException:
        # Lightning stops on SIGTERM with a SystemExit that has no code, which exits 0
        # and lets `mmlearn fit ... && mmlearn test ...` go on. Exit as the signal would.
        print("mmlearn: stopped by SIGTERM", file=sys.stderr)
        sys.exit(128 + signal.SIGTERM)
    # Lightning leaves the DDP process group open. Left to interpreter shutdown, gloo's
    # worker threads can abort the process ("terminate called without an active
    # exception") after a fit that succeeded. Only a clean finish gets here, so every
    # rank reaches this point and none waits on a rank that failed.
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
