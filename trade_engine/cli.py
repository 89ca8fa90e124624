"""The ``trade-engine`` command line."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from trade_engine.ops.journal_cli import journal_app

app = typer.Typer(no_args_is_help=True, help="Trade engine: matching, accounts, journal.")
app.add_typer(journal_app, name="journal", help="Verify, inspect and replay a data directory.")


@app.command()
def engine(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML file merged over the defaults")
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="journal and snapshots live here")] = None,
    tcp_port: Annotated[int | None, typer.Option(help="native protocol TCP port")] = None,
    unix: Annotated[str | None, typer.Option(help="native protocol Unix socket path")] = None,
    no_fsync: Annotated[
        bool, typer.Option("--no-fsync", help="skip fsync (tests and trials only: not durable)")
    ] = False,
) -> None:
    """Run one engine process: recover, then sequence and serve until SIGINT/SIGTERM."""
    from trade_engine.config import load_config
    from trade_engine.process import run_engine

    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = str(data_dir)
    listen: dict[str, Any] = {}
    if tcp_port is not None:
        listen["tcp_port"] = tcp_port
    if unix is not None:
        listen["unix"] = unix
    if listen:
        overrides["listen"] = listen
    if no_fsync:
        overrides["sequencer"] = {"sync": False}
    cfg = load_config(config, overrides)
    logging.basicConfig(
        level=cfg.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(run_engine(cfg))


@app.command()
def demo() -> None:
    """Drive the core through a short scripted session and print every event."""
    from trade_engine.demo import run_demo

    run_demo(typer.echo)


@app.command()
def version() -> None:
    """Print the engine's version."""
    from trade_engine import __version__

    typer.echo(__version__)


if __name__ == "__main__":
    app()
