"""AdamW with per-encoder learning rates and a linear warm-up into a cosine decay."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class OptimizerConfig:
    """AdamW and its schedule.

    Attributes
    ----------
    lr:
        The peak learning rate of every parameter outside an encoder with its own.
    weight_decay:
        AdamW's decoupled weight decay.
    warmup_fraction:
        The share of all training steps spent warming up linearly from 0 to ``lr``.
        The rest decays along a cosine to ``lr * min_lr_ratio``.
    min_lr_ratio:
        The final learning rate as a fraction of ``lr``.
    """

    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    min_lr_ratio: float = 0.0


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, min_ratio: float) -> float:
    """Return the learning-rate multiplier at ``step``."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    progress = min(max(progress, 0.0), 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_optimizer(
    groups: Iterable[tuple[str, nn.Module, float | None]],
    config: OptimizerConfig,
    total_steps: int,
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """Build AdamW over (name, module, lr or None for the default lr) groups and its scheduler.

    Each parameter group keeps its ``name``. Parameters that do not require gradients
    (frozen encoders) are left out, and so is a group left without parameters.
    """
    param_groups = []
    for name, module, lr in groups:
        params = [p for p in module.parameters() if p.requires_grad]
        if params:
            param_groups.append(
                {"params": params, "lr": config.lr if lr is None else lr, "name": name}
            )
    if not param_groups:
        raise ValueError("no trainable parameters: every encoder and head is frozen")
    optimizer = torch.optim.AdamW(param_groups, weight_decay=config.weight_decay)
    warmup_steps = int(config.warmup_fraction * total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: warmup_cosine(step, total_steps, warmup_steps, config.min_lr_ratio),
    )
    return optimizer, scheduler
