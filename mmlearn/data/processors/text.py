"""Text processing: the encoder's own Hugging Face tokenizer, applied per batch."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import AutoTokenizer

from mmlearn.hub import describe_missing_model, hub_offline, resolve_pretrained


class TextProcessor:
    """Tokenize a batch of strings with padding to the longest and truncation.

    Parameters
    ----------
    tokenizer:
        A Hugging Face Hub name or a local folder; names that a local package ships
        resolve offline (see ``mmlearn.hub``).
    max_length:
        Maximum tokens per sample, special tokens included.
    """

    def __init__(self, tokenizer: str, max_length: int = 64):
        self.name = tokenizer
        self.max_length = max_length
        path = resolve_pretrained(tokenizer)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=hub_offline())
        except (OSError, ValueError) as error:
            raise describe_missing_model(tokenizer, error) from error

    def find_truncated(self, texts: Sequence[str]) -> list[int]:
        """Return the positions of the texts longer than ``max_length`` tokens."""
        lengths = self.tokenizer(list(texts), truncation=False, return_length=True)["length"]
        return [index for index, length in enumerate(lengths) if length > self.max_length]

    def __call__(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Return ``input_ids`` and ``attention_mask`` of shape (B, T)."""
        encoded = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}
