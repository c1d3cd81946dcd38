"""Task heads: one small module per task on top of the fused vector."""

from __future__ import annotations

import torch
from torch import nn


class ClassificationHead(nn.Module):
    """A linear classifier. Inputs: (B, input_dim). Returns: logits (B, num_classes)."""

    def __init__(self, input_dim: int, num_classes: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(input_dim, num_classes)

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(fused))
