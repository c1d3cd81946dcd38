"""Lightning callbacks."""

from mmlearn.callbacks.prediction_writer import PredictionWriter
from mmlearn.callbacks.run_metadata import RunMetadataConfig

__all__ = ["PredictionWriter", "RunMetadataConfig"]
