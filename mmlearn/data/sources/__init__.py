"""Builders that write manifests from datasets on disk."""
