"""The ``trade-engine`` command line."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from trade_engine.ops.journal_cli import journal_app

app = typer.Typer(no_args_is_help=True, help="Trade engine: matching, accounts, journal.")
app.add_typer(journal_app, name="journal", help="Verify, inspect and replay a data directory.")


ENGINE_HELP = """Run one engine process: recover, then sequence and serve until SIGINT/SIGTERM.

\b
Exit codes (ops/runbook-engine.md says what to do for each):
  0  stopped by SIGTERM/SIGINT; everything acknowledged is durable
  1  unexpected error (a bug): a traceback is printed
  2  config file missing, unreadable or invalid, or bad options
  3  data directory in use: another process holds the journal lock (named)
  4  cannot listen: the TCP port or Unix socket is in use or not allowed
  5  journal or snapshots damaged or inconsistent: start refused
  6  disk full (at start, or the journal could not be written)
  7  the data directory cannot be used: I/O error, permissions, read-only
"""


@app.command(help=ENGINE_HELP)
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
    from trade_engine.config import load_config
    from trade_engine.config.settings import ConfigError
    from trade_engine.process import ExitCode, main

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
    # logging first, so that even a refused config is reported as one log line
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        cfg = load_config(config, overrides)
    except ConfigError as exc:
        logging.getLogger("trade_engine").error("%s; fix it and start again", exc)
        raise typer.Exit(ExitCode.CONFIG) from None
    try:
        logging.getLogger().setLevel(cfg.log_level)
    except ValueError as exc:
        logging.getLogger("trade_engine").error("invalid log_level in the config: %s", exc)
        raise typer.Exit(ExitCode.CONFIG) from None
    raise typer.Exit(main(cfg))


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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
