"""Engine configuration: a YAML file validated by pydantic, with embedded defaults."""

from trade_engine.config.settings import (
    AssetConfig,
    CredentialConfig,
    EngineConfig,
    ListenConfig,
    SequencerSettings,
    load_config,
)

__all__ = [
    "AssetConfig",
    "CredentialConfig",
    "EngineConfig",
    "ListenConfig",
    "SequencerSettings",
    "load_config",
]
