"""Print the state hash after the seeded core flow, and a hash of every event it emitted.

    python bench/flow_hash.py [--commands 20000]

`.ci/run` runs it with the pure-Python install and with the mypyc-compiled one and requires
the same hashes, so the compiled build can never drift from the source it is compiled from,
in state or in what it reports.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from core_bench import flow, fresh_engine

import trade_engine.core.engine as engine_module
from trade_engine.core.state import state_hash
from trade_engine.wire.msgpack_codec import encode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commands", type=int, default=20_000)
    args = ap.parse_args()
    e, seq = fresh_engine()
    events = hashlib.blake2b(digest_size=16)
    for cmd in flow(args.commands, 5):
        seq += 1
        events.update(encode(e.apply(seq, seq * 1_000, cmd)))
    compiled = not engine_module.__file__.endswith(".py")
    print(f"{state_hash(e)} events {events.hexdigest()} {'compiled' if compiled else 'pure'}")


if __name__ == "__main__":
    main()
