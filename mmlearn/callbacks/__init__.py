"""Lightning callbacks."""

from mmlearn.callbacks.prediction_writer import PredictionWriter

__all__ = ["PredictionWriter"]
