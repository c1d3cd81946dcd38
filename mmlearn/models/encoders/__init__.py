"""One encoder per modality; each maps its inputs to a (B, output_dim) feature tensor."""

from mmlearn.models.encoders.audio import AudioCNNEncoder, AudioRNNEncoder, build_audio_encoder
from mmlearn.models.encoders.audio_transformers import HFAudioEncoder
from mmlearn.models.encoders.config import (
    AudioEncoderConfig,
    ImageEncoderConfig,
    TextEncoderConfig,
)
from mmlearn.models.encoders.image import TorchvisionImageEncoder
from mmlearn.models.encoders.text import HFTextEncoder

__all__ = [
    "AudioCNNEncoder",
    "AudioEncoderConfig",
    "AudioRNNEncoder",
    "HFAudioEncoder",
    "HFTextEncoder",
    "ImageEncoderConfig",
    "TextEncoderConfig",
    "TorchvisionImageEncoder",
    "build_audio_encoder",
]
