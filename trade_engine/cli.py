"""The ``trade-engine`` command line."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Trade engine: matching, accounts, journal.")


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
