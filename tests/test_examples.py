"""The README's first steps work as written: examples/first_order.py against a real engine."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_CLI = "from trade_engine.cli import app; app()"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_first_order_example_against_an_engine_process(tmp_path: Path) -> None:
    port = _free_port()
    cfg = tmp_path / "engine.yaml"
    # everything else (credentials, assets, symbols) from the embedded defaults, as run.sh
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\nlisten: {{tcp_port: {port}}}\n")
    engine = subprocess.Popen(
        [sys.executable, "-c", _CLI, "engine", "--config", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert engine.poll() is None, engine.stderr.read() if engine.stderr else ""
                assert time.monotonic() < deadline, "the engine did not listen in 30 s"
                time.sleep(0.1)
        run = subprocess.run(
            [sys.executable, str(ROOT / "examples/first_order.py"), f"tcp://127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        lines = run.stdout.splitlines()
        assert lines[0].startswith("deposit ") and "TransferApplied" in lines[0]
        assert lines[1].startswith("order ") and "OrderAccepted" in lines[1]
        assert "'status': 'NEW'" in lines[2] and "'qty': 5000" in lines[2]  # 0.005 BTC in lots
        assert "duplicate=True" in lines[3]  # the retry got the same order back
    finally:
        engine.terminate()
        engine.wait(timeout=30)


def test_the_example_config_is_valid_and_its_symbols_build() -> None:
    from trade_engine.config.settings import load_config
    from trade_engine.core.symbols import Asset, Market, SymbolSpec

    cfg = load_config(ROOT / "config/engine.example.yaml")
    assets = {a.code: Asset(a.code, a.decimals) for a in cfg.assets}
    for s in cfg.symbols:
        Market(SymbolSpec(**s.model_dump()), assets[s.base], assets[s.quote])  # raises if off
    assert {c.role for c in cfg.credentials} == {"gateway", "operator"}
