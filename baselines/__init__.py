"""Reference models for genbench, registered through the `genbench.models` entry points exactly as
a third-party plugin would register its own (see pyproject.toml)."""
