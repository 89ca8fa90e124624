"""The bench scripts the tests reuse (``bench/`` is not a package): the realistic command flow
(``core_bench``) and the engine process's config, port and credentials (``engine_proc``)."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import core_bench  # noqa: E402
import engine_proc  # noqa: E402

__all__ = ["BENCH", "core_bench", "engine_proc"]
