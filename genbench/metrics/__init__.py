"""Metrics: one file per metric family, each registered by name."""
