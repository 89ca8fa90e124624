"""The `trade-engine` command line: `demo` drives the core and prints a deterministic hash."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from trade_engine.cli import app
from trade_engine.core.engine import Engine
from trade_engine.core.state import state_hash
from trade_engine.demo import run_demo, script

HASH_LINE = re.compile(r"state hash after (\d+) commands: ([0-9a-f]{64})\s*$")


def _demo_output() -> str:
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    return result.output


def _hash(output: str) -> tuple[int, str]:
    m = HASH_LINE.search(output.strip().splitlines()[-1])
    assert m, output[-300:]
    return int(m.group(1)), m.group(2)


def test_demo_runs_and_prints_trades_and_the_state_hash() -> None:
    out = _demo_output()
    trades = [line for line in out.splitlines() if line.strip().startswith("Trade(")]
    assert len(trades) >= 3
    # the scripted session shows what it promises
    assert "StopTriggered(" in out
    assert "SelfTradePrevented(" in out
    assert "MarketOrderReport(" in out
    assert "duplicate=True" in out
    # prices and amounts are printed as decimals, never as floats in exponent form
    events = "\n".join(line for line in out.splitlines() if line.startswith("    "))
    assert not re.search(r"\d[eE][+-]?\d", events)
    assert "price=50000," in events  # 5,000,000 ticks of 0.01 shown as a decimal
    n, _h = _hash(out)
    assert n == len(list(script()))


def test_demo_is_deterministic() -> None:
    first = _hash(_demo_output())
    second = _hash(_demo_output())
    assert first == second
    # and the same as applying the script to a fresh engine directly
    e = Engine()
    for seq, (_title, cmd) in enumerate(script(), start=1):
        e.apply(seq, seq * 1_000_000, cmd)
    assert state_hash(e) == first[1]


def test_run_demo_returns_the_printed_hash() -> None:
    lines: list[str] = []
    h = run_demo(lines.append)
    assert lines[-1].strip().endswith(h)
    assert _hash(_demo_output())[1] == h


def test_version_command() -> None:
    from trade_engine import __version__

    result = CliRunner().invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.output.strip() == __version__


def test_engine_help_lists_the_exit_codes() -> None:
    from trade_engine.process import ExitCode

    result = CliRunner().invoke(app, ["engine", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    for code in ExitCode:
        assert f"  {int(code)}  " in result.output, (code, result.output)
