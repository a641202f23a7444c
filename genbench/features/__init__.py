"""Feature extractors: one file per extractor, each registered by name."""
