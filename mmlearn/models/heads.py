"""Task heads: one small module per task on top of the fused vector."""

from __future__ import annotations

import torch
from torch import nn


class LinearHead(nn.Module):
    """A linear layer after dropout: class logits, or one value for regression.

    Inputs: (B, input_dim). Returns: (B, output_dim).
    """

    def __init__(self, input_dim: int, output_dim: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(input_dim, output_dim)

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        return self.linear(self.dropout(fused))
