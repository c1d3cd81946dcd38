"""Audio encoders over log-mel features (a small CNN, a GRU or LSTM), and their builder."""

from __future__ import annotations

import torch
from torch import nn

from mmlearn.errors import ConfigError
from mmlearn.models.encoders.audio_transformers import HFAudioEncoder
from mmlearn.models.encoders.config import AudioEncoderConfig
from mmlearn.models.encoders.pooling import length_mask, masked_mean


class AudioCNNEncoder(nn.Module):
    """Conv blocks over the (mel, time) plane, then a mean over the real frames.

    Inputs: ``features`` (B, n_mels, frames) and ``frame_lengths`` (B,).
    Returns: (B, channels[-1]). ``forward_with_tokens`` also returns one token per
    pooled time step, (B, frames / 2 ** len(channels), channels[-1]), and their mask.
    """

    def __init__(
        self, n_mels: int = 64, channels: tuple[int, ...] = (32, 64, 128), dropout: float = 0.1
    ):
        super().__init__()
        blocks: list[nn.Module] = []
        in_channels = 1
        for out_channels in channels:
            blocks += [
                nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            in_channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout)
        self.time_stride = 2 ** len(channels)
        self.output_dim = channels[-1]
        # Normalizes each mel band over the batch, since log-mel values have no fixed scale.
        self.input_norm = nn.BatchNorm2d(1)
        self.n_mels = n_mels

    def _frames(
        self, features: torch.Tensor, frame_lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.blocks(self.input_norm(features.unsqueeze(1)))  # (B, C, mels', frames')
        x = x.mean(dim=2).transpose(1, 2)  # (B, frames', C)
        reduced = torch.div(frame_lengths, self.time_stride, rounding_mode="floor").clamp(min=1)
        return x, length_mask(reduced, x.shape[1])

    def forward_with_tokens(
        self, features: torch.Tensor, frame_lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return the pooled vector, the time-step tokens and their mask."""
        tokens, mask = self._frames(features, frame_lengths)
        return self.dropout(masked_mean(tokens, mask)), self.dropout(tokens), mask

    def forward(self, features: torch.Tensor, frame_lengths: torch.Tensor) -> torch.Tensor:
        return self.dropout(masked_mean(*self._frames(features, frame_lengths)))


class AudioRNNEncoder(nn.Module):
    """A bidirectional GRU or LSTM over log-mel frames, mean-pooled over real frames.

    Inputs: ``features`` (B, n_mels, frames) and ``frame_lengths`` (B,).
    Returns: (B, 2 * hidden_size). ``forward_with_tokens`` also returns the states of
    every frame, (B, frames, 2 * hidden_size), and their mask.
    """

    def __init__(
        self,
        n_mels: int = 64,
        kind: str = "gru",
        hidden_size: int = 128,
        num_layers: int = 2,
        dropout: float = 0.1,
    ):
        super().__init__()
        rnn_classes = {"gru": nn.GRU, "lstm": nn.LSTM}
        if kind not in rnn_classes:
            raise ValueError(f"invalid recurrent audio encoder {kind!r}; use 'gru' or 'lstm'")
        self.input_norm = nn.LayerNorm(n_mels)
        self.rnn = rnn_classes[kind](
            n_mels,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.output_dim = 2 * hidden_size

    def forward_with_tokens(
        self, features: torch.Tensor, frame_lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return the pooled vector, the frame states and their mask."""
        x = self.input_norm(features.transpose(1, 2))  # (B, frames, n_mels)
        lengths = frame_lengths.clamp(min=1, max=x.shape[1]).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            x, lengths, batch_first=True, enforce_sorted=False
        )
        output, _ = self.rnn(packed)
        padded, _ = nn.utils.rnn.pad_packed_sequence(
            output, batch_first=True, total_length=x.shape[1]
        )
        mask = length_mask(lengths.to(x.device), x.shape[1])
        return masked_mean(padded, mask), padded, mask

    def forward(self, features: torch.Tensor, frame_lengths: torch.Tensor) -> torch.Tensor:
        return self.forward_with_tokens(features, frame_lengths)[0]


def build_audio_encoder(config: AudioEncoderConfig, n_mels: int) -> nn.Module:
    """Build the audio encoder that ``config.kind`` names."""
    if config.kind == "transformers":
        if config.model_name_or_path is None:
            raise ConfigError(
                "audio_encoder.kind transformers needs audio_encoder.model_name_or_path, "
                "a local folder with a wav2vec2-style model"
            )
        return HFAudioEncoder(config.model_name_or_path)
    if config.kind == "cnn":
        return AudioCNNEncoder(n_mels, tuple(config.channels), config.dropout)
    return AudioRNNEncoder(
        n_mels, config.kind, config.hidden_size, config.num_layers, config.dropout
    )
