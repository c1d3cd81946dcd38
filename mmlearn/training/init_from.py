"""Start a model from the weights of an earlier fit, such as a contrastive pretraining."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from mmlearn.checkpoint_file import read_checkpoint
from mmlearn.errors import ConfigError

# MultimodalModule keeps its MultimodalModel under this attribute, so checkpoint keys
# of the model's tensors start with it.
MODEL_PREFIX = "model."


@dataclass
class InitReport:
    """The names of the tensors that ``load_matching_weights`` copied, left fresh or skipped."""

    loaded: list[str] = field(default_factory=list)
    fresh: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    def summary(self, checkpoint: str | Path) -> str:
        """Return one log line: the counts, and the parts of the model that start fresh."""
        parts = sorted({".".join(name.split(".")[:2]) for name in self.fresh})
        line = f"Loaded {len(self.loaded)} tensors from {checkpoint}"
        if parts:
            line += f"; {len(self.fresh)} start fresh, in {', '.join(parts)}"
        if self.mismatched:
            line += f"; skipped for a different shape: {', '.join(self.mismatched)}"
        return line


def load_matching_weights(model: nn.Module, checkpoint: str | Path) -> InitReport:
    """Copy into ``model`` every tensor of ``checkpoint``'s model with the same name and shape.

    ``checkpoint`` is a ``.ckpt`` file that ``mmlearn fit`` wrote. Encoders, projections
    and fusion layers built with the same settings match. Heads of tasks that the
    earlier fit did not have keep their fresh weights. Only the weights are read, not
    the optimizer state, the epoch or the earlier tasks' settings.

    Raises
    ------
    ConfigError
        If the file is missing, is not a Lightning checkpoint, or shares no tensor
        with ``model``.
    """
    path = Path(checkpoint)
    stored = read_checkpoint(path, "model.init_from").get("state_dict")
    if not isinstance(stored, dict):
        raise ConfigError(
            f"model.init_from: {path} has no state_dict, so mmlearn fit did not write it; "
            "a torchvision state dict for the image backbone goes in "
            "model.image_encoder.weights_path"
        )
    own = model.state_dict()
    report = InitReport()
    for key, value in stored.items():
        name = key.removeprefix(MODEL_PREFIX)
        if not key.startswith(MODEL_PREFIX) or name not in own:
            continue
        if value.shape != own[name].shape:
            report.mismatched.append(f"{name} {tuple(value.shape)} -> {tuple(own[name].shape)}")
            continue
        own[name] = value
        report.loaded.append(name)
    if not report.loaded:
        raise ConfigError(
            f"model.init_from: no tensor of {path} matches this model by name and shape; "
            "build the encoders with the same settings as the fit that wrote it"
        )
    model.load_state_dict(own)
    loaded = set(report.loaded)
    report.fresh = [name for name in own if name not in loaded]
    return report
