"""Audio decoding and features: soundfile to mono float32 at one rate, then log-mel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio
from torch import nn

from mmlearn.data.cache import MediaCache
from mmlearn.errors import MediaDecodeError
from mmlearn.modalities import AUDIO


class AudioProcessor:
    """Decode an audio file to a mono waveform at ``sample_rate``, at most ``max_seconds`` long.

    Longer clips are cropped by ``crop``: ``random`` (a random offset), ``center`` or
    ``start``. The default ``auto`` is random in training and centred in evaluation.
    Shorter clips are returned as they are; the collate step pads them and keeps their
    true lengths. With a ``cache``, the decoded and resampled clip is stored on disk
    and only the crop runs on each call.
    """

    CROPS = ("auto", "random", "center", "start")

    def __init__(
        self,
        sample_rate: int = 16000,
        max_seconds: float = 3.0,
        train: bool = False,
        crop: str = "auto",
        cache: MediaCache | None = None,
    ):
        if sample_rate <= 0 or max_seconds <= 0:
            raise ValueError(
                f"sample_rate ({sample_rate}) and max_seconds ({max_seconds}) must be positive"
            )
        if crop not in self.CROPS:
            raise ValueError(f"invalid audio crop {crop!r}; use one of {self.CROPS}")
        self.sample_rate = sample_rate
        self.max_samples = round(sample_rate * max_seconds)
        self.train = train
        self.crop_policy = crop
        self.cache = cache
        self.settings = f"audio v1 rate={sample_rate}"
        if crop == "auto":
            self.crop_policy = "random" if train else "center"
        self._resamplers: dict[int, torchaudio.transforms.Resample] = {}

    def load(self, path: str | Path) -> torch.Tensor:
        """Return the mono float32 waveform of ``path`` at ``sample_rate``, shape (S,)."""
        try:
            data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        except FileNotFoundError:
            raise MediaDecodeError(str(path), AUDIO, "file not found") from None
        except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
            raise MediaDecodeError(str(path), AUDIO, str(error)) from error
        if data.shape[0] == 0:
            raise MediaDecodeError(str(path), AUDIO, "the file contains no samples")
        waveform = torch.from_numpy(data).mean(dim=1)
        if rate != self.sample_rate:
            if rate not in self._resamplers:
                self._resamplers[rate] = torchaudio.transforms.Resample(rate, self.sample_rate)
            waveform = self._resamplers[rate](waveform)
        return waveform

    def crop(self, waveform: torch.Tensor) -> torch.Tensor:
        """Crop ``waveform`` to at most ``max_samples`` at the place ``crop_policy`` sets."""
        excess = waveform.shape[0] - self.max_samples
        if excess <= 0:
            return waveform
        if self.crop_policy == "random":
            start = int(torch.randint(0, excess + 1, ()).item())
        elif self.crop_policy == "center":
            start = excess // 2
        else:
            start = 0
        return waveform[start : start + self.max_samples]

    def decode(self, path: str | Path) -> np.ndarray:
        """Return ``load(path)`` as a NumPy array, the form the cache stores."""
        return self.load(path).numpy()

    def __call__(self, path: str | Path) -> torch.Tensor:
        if self.cache is None:
            return self.crop(self.load(path))
        waveform = self.cache.get(path, self.settings, AUDIO, self.decode)
        return self.crop(torch.from_numpy(waveform))


class LogMelFeatures(nn.Module):
    """Batched log-mel spectrogram of padded waveforms, always computed in float32.

    Inputs: ``waveform`` (B, S) and ``lengths`` (B,) in samples.
    Returns: features (B, n_mels, frames) and ``frame_lengths`` (B,), the number of
    frames that cover real samples.
    """

    def __init__(
        self,
        sample_rate: int = 16000,
        n_mels: int = 64,
        n_fft: int = 400,
        hop_length: int = 160,
    ):
        super().__init__()
        self.hop_length = hop_length
        self.n_fft = n_fft
        self.melspec = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels
        )

    def forward(
        self, waveform: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if waveform.shape[-1] < self.n_fft:
            # Centred frames pad by n_fft // 2 on each side, which needs that many samples.
            waveform = nn.functional.pad(waveform, (0, self.n_fft - waveform.shape[-1]))
        with torch.autocast(device_type=waveform.device.type, enabled=False):
            power = self.melspec(waveform.float())
            features = torch.log(power + 1e-6)
        # MelSpectrogram centres its frames, so S samples give S // hop + 1 frames.
        frame_lengths = torch.div(lengths, self.hop_length, rounding_mode="floor") + 1
        frame_lengths = frame_lengths.clamp(max=features.shape[-1])
        return features, frame_lengths
