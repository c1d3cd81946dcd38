"""Lightning training logic around the pure-torch MultimodalModel."""

from mmlearn.training.module import MultimodalModule
from mmlearn.training.optim import OptimizerConfig

__all__ = ["MultimodalModule", "OptimizerConfig"]
