"""Datasets: one file per dataset family, each registered by name."""
