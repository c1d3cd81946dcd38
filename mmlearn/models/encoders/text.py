"""Text encoder over any Hugging Face transformers model."""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoModel

from mmlearn.hub import describe_missing_model, hub_offline, resolve_pretrained
from mmlearn.models.encoders.pooling import masked_mean


class HFTextEncoder(nn.Module):
    """Encode tokens with a transformers model and pool them to one vector per sample.

    ``pooling`` is ``cls`` (the first token), ``mean`` (over non-padding tokens) or
    ``attention`` (a learned linear score per token, softmaxed over non-padding
    tokens). ``gradient_checkpointing`` turns on the model's own checkpointing.

    Inputs: ``input_ids`` and ``attention_mask``, (B, T).
    Returns: (B, output_dim), where ``output_dim`` is the model's hidden size;
    ``forward_with_tokens`` also returns the token states (B, T, output_dim) and their
    mask.
    """

    POOLINGS = ("cls", "mean", "attention")

    def __init__(
        self, model_name_or_path: str, pooling: str = "mean", gradient_checkpointing: bool = False
    ):
        super().__init__()
        if pooling not in self.POOLINGS:
            raise ValueError(f"invalid text pooling {pooling!r}; use one of {self.POOLINGS}")
        try:
            self.model = AutoModel.from_pretrained(
                resolve_pretrained(model_name_or_path), local_files_only=hub_offline()
            )
        except (OSError, ValueError) as error:
            raise describe_missing_model(model_name_or_path, error) from error
        # from_pretrained returns the model in eval mode; training mode is the module default.
        self.model.train()
        # Pooling reads the token states, so a pooler head (BERT's) would never get a
        # gradient, which plain DDP (find_unused_parameters off) rejects. BERT-style
        # models skip a pooler that is None.
        if getattr(self.model, "pooler", None) is not None:
            self.model.pooler = None
        if gradient_checkpointing:
            if not self.model.supports_gradient_checkpointing:
                raise ValueError(
                    f"{model_name_or_path} does not support gradient checkpointing; "
                    "set text_encoder.gradient_checkpointing to false"
                )
            # transformers 5 renamed the method; older releases have only the first name.
            enable = getattr(self.model, "activation_checkpointing_enable", None)
            (enable or self.model.gradient_checkpointing_enable)()
        self.pooling = pooling
        self.output_dim = int(self.model.config.hidden_size)
        self.score = nn.Linear(self.output_dim, 1) if pooling == "attention" else None

    def forward_with_tokens(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return the pooled vector, the token states and their bool mask."""
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.bool()
        return self.pool(hidden, mask), hidden, mask

    def pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Pool token states (B, T, H) to (B, H) with the configured ``pooling``."""
        if self.pooling == "cls":
            return hidden[:, 0]
        if self.score is not None:
            scores = self.score(hidden).squeeze(-1).masked_fill(~mask, float("-inf"))
            weights = scores.softmax(dim=-1).unsqueeze(-1)
            return (hidden * weights).sum(dim=1)
        return masked_mean(hidden, mask)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.forward_with_tokens(input_ids, attention_mask)[0]
