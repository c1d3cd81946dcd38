"""Audio encoder over raw waveforms with a transformers model (wav2vec2, HuBERT, WavLM, ...)."""

from __future__ import annotations

import torch
from torch import nn
from transformers import AutoModel

from mmlearn.hub import describe_missing_model, hub_offline, resolve_pretrained
from mmlearn.models.encoders.pooling import length_mask, masked_mean


class HFAudioEncoder(nn.Module):
    """Encode 16 kHz waveforms with a wav2vec2-style model and mean-pool the real frames.

    Each clip is normalized to zero mean and unit variance over its real samples,
    as wav2vec2's feature extractor does. The attention mask marks the padding, so
    padding changes nothing for models whose feature encoder uses layer norm (the
    ``feat_extract_norm: layer`` checkpoints, such as wav2vec2-large-lv60). Models
    with group norm there (wav2vec2-base) see the padding; batch clips of similar
    length for them.

    Inputs: ``waveform`` (B, S) and ``lengths`` (B,) in samples.
    Returns: (B, output_dim), where ``output_dim`` is the model's hidden size;
    ``forward_with_tokens`` also returns the frame states (B, frames, output_dim) and
    their mask.
    """

    reads_waveform = True

    def __init__(self, model_name_or_path: str):
        super().__init__()
        try:
            self.model = AutoModel.from_pretrained(
                resolve_pretrained(model_name_or_path), local_files_only=hub_offline()
            )
        except (OSError, ValueError) as error:
            raise describe_missing_model(model_name_or_path, error) from error
        if not hasattr(self.model, "_get_feat_extract_output_lengths"):
            raise ValueError(
                f"{model_name_or_path} is a {type(self.model).__name__}, not a wav2vec2-style "
                "audio model with a convolutional feature encoder"
            )
        self.model.train()
        self.output_dim = int(self.model.config.hidden_size)

    def forward_with_tokens(
        self, waveform: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return the pooled vector, the frame states and their mask."""
        real = length_mask(lengths, waveform.shape[1])
        count = real.sum(dim=1, keepdim=True).clamp(min=1)
        mean = (waveform * real).sum(dim=1, keepdim=True) / count
        variance = (((waveform - mean) * real) ** 2).sum(dim=1, keepdim=True) / count
        normalized = ((waveform - mean) / torch.sqrt(variance + 1e-7)) * real
        hidden = self.model(input_values=normalized, attention_mask=real.long()).last_hidden_state
        frames = self.model._get_feat_extract_output_lengths(lengths).clamp(min=1)
        mask = length_mask(frames, hidden.shape[1])
        return masked_mean(hidden, mask), hidden, mask

    def forward(self, waveform: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.forward_with_tokens(waveform, lengths)[0]
