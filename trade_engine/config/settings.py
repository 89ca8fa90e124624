"""The engine process's settings.

``load_config(None)`` gives the embedded defaults (``default.yaml`` next to this file): a data
directory under ``./data``, TCP on 127.0.0.1:7300, BTC-USDT and ETH-USDT, and a demo gateway
credential. A file given with ``--config`` is merged over the defaults key by key; flags
override both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trade_engine.core.enums import SymbolStatus

DEFAULT_FILE = Path(__file__).with_name("default.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ListenConfig(_Strict):
    tcp_host: str | None = "127.0.0.1"
    tcp_port: int = Field(7300, ge=0, le=65535)
    unix: str | None = None
    max_frame_bytes: int = Field(1 << 20, ge=1024)
    heartbeat_seconds: float = Field(10.0, gt=0)


class SequencerSettings(_Strict):
    max_queue: int = Field(10_000, ge=1)
    max_batch: int = Field(1_000, ge=1)
    sync: bool = True
    segment_mib: int = Field(256, ge=1)
    snapshot_every_commands: int = Field(1_000_000, ge=0)
    snapshot_every_seconds: float = Field(600.0, ge=0)
    snapshots_kept: int = Field(2, ge=1)
    prune_journal: bool = False
    subscriber_queue: int = Field(10_000, ge=1)
    overlap_fsync: bool = True
    full_scan_on_open: bool = False  # walk every journal record on start (docs/adr/0007)
    # refuse new commands while the journal's file system has less free space than this
    # (0 = off); checked every disk_check_seconds, not per command (runbook: Disk full)
    min_free_mib: int = Field(256, ge=0)
    disk_check_seconds: float = Field(1.0, gt=0)
    # refuse to start instead of cutting a damaged final journal record that may have been
    # acknowledged (complete, bad CRC); short tails are always cut (docs/journal-format.md)
    strict_tail: bool = False


class CredentialConfig(_Strict):
    api_key: str = Field(min_length=1)
    secret: str = Field(min_length=8)
    role: Literal["user", "gateway", "operator"]
    user_id: int = Field(0, ge=0)


class AssetConfig(_Strict):
    code: str
    decimals: int = Field(ge=0, le=30)


class SymbolConfig(_Strict):
    symbol: str
    base: str
    quote: str
    tick: str
    lot: str
    min_qty: str = "0"
    max_qty: str = "0"
    min_notional: str = "0"
    band_bps: int = 0
    market_band_bps: int = 500
    maker_fee_ppm: int = 500
    taker_fee_ppm: int = 1000
    ref_price: str = "0"
    status: SymbolStatus = SymbolStatus.TRADING


class EngineConfig(_Strict):
    data_dir: Path = Path("data")
    log_level: str = "INFO"
    listen: ListenConfig = ListenConfig()
    sequencer: SequencerSettings = SequencerSettings()
    credentials: list[CredentialConfig] = []
    # applied once, when the journal is empty: the admin commands that define the market
    assets: list[AssetConfig] = []
    symbols: list[SymbolConfig] = []


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


class ConfigError(Exception):
    """The config file is missing, unreadable, not YAML, or not a valid engine config: one
    line that names the file and what is wrong (the engine refuses to start)."""


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> EngineConfig:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_FILE.read_text()) or {}
    where = str(path) if path is not None else "the built-in defaults"
    if path is not None:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
        try:
            loaded = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            detail = " ".join(str(exc).split())
            raise ConfigError(f"config file {path} is not valid YAML: {detail}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must be a mapping of settings")
        data = _merge(data, loaded)
    if overrides:
        data = _merge(data, overrides)
    try:
        return EngineConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"invalid config in {where}: {problems}") from exc
