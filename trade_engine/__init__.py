"""Trade engine: a deterministic, durable matching engine for a crypto exchange."""

__version__ = "0.1.0"
