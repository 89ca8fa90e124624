"""Operator tooling: command-line tools that read a data directory (journal + snapshots).

``trade_engine.ops.journal_cli.journal_app`` is the ``trade-engine journal ...`` sub-app
(verify, stats, dump, replay). Nothing here writes to the data directory.
"""
