"""Fusion strategies: each combines per-modality features of a shared width into one vector."""

from mmlearn.models.fusion.concat import ConcatFusion

__all__ = ["ConcatFusion"]
