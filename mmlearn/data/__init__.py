"""Manifests, processors, collation and the LightningDataModule."""
