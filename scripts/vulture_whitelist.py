"""Names the unused-code check (vulture, run by scripts/test.sh) must not report.

Each is used from outside Python's view: CLI commands registered by decorator, fields read by
pydantic or by clients of a record, statistics read by operators, protocol parameters.
"""

# ruff: noqa
demo  # unused function (trade_engine/cli.py:54)
et  # unused variable (trade_engine/client/client.py:417)
tb  # unused variable (trade_engine/client/client.py:419)
model_config  # unused variable (trade_engine/config/settings.py:23)
GATEWAY  # unused variable (trade_engine/gateway/access.py:29)
created_seq  # unused variable (trade_engine/gateway/views.py:93)
created_ts  # unused variable (trade_engine/gateway/views.py:94)
updated_seq  # unused variable (trade_engine/gateway/views.py:95)
updated_ts  # unused variable (trade_engine/gateway/views.py:96)
tb  # unused variable (trade_engine/journal/writer.py:385)
EXIT_OK  # unused variable (trade_engine/ops/journal_cli.py:43)
dump  # unused function (trade_engine/ops/journal_cli.py:618)
replay  # unused function (trade_engine/ops/journal_cli.py:700)
_.inline_commits  # unused attribute (trade_engine/sequencer/sequencer.py:271)
_.batches  # unused attribute (trade_engine/sequencer/sequencer.py:313)
batches  # unused variable (trade_engine/sequencer/sequencer.py:509)
inline_commits  # unused variable (trade_engine/sequencer/sequencer.py:510)
__traceback__  # set to None to cut a cycle (trade_engine/native/session.py)
FAILED  # ExitCode 1, documented; set by the interpreter on an uncaught error (process.py)
