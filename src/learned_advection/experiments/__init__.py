"""Reproducible experiments: one small declarative config and pipeline per experiment."""
