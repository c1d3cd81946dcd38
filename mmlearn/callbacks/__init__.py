"""Lightning callbacks."""

from mmlearn.callbacks.checkpoint import ExceptionCheckpoint, FlatModelCheckpoint
from mmlearn.callbacks.prediction_writer import PredictionWriter
from mmlearn.callbacks.run_metadata import RunMetadataConfig

__all__ = ["ExceptionCheckpoint", "FlatModelCheckpoint", "PredictionWriter", "RunMetadataConfig"]
