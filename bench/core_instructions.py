"""CPU instructions per command of the core, counted by valgrind (callgrind): a noise-free A/B.

This VM's wall-clock speed drifts by up to 40 % within minutes, so a few percent between two
builds cannot be seen in commands/s. Instructions executed are deterministic: this runs the
seeded core flow's ``Engine.apply`` loop under callgrind twice (with none and with ``--commands``
flow commands applied, the same commands built in both) and reports the difference per
command. Needs Debian's
``valgrind``; takes about a minute for 100,000 commands.

    python bench/core_instructions.py [--commands 100000] [--python .venv-run/bin/python]
    # A/B: run it with each build's interpreter (e.g. a worktree of the old commit, built with
    # scripts/build.sh there), from each checkout's bench/ directory

Prints the figures and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

_LOOP = """
import gc, sys
from itertools import islice
sys.path.insert(0, sys.argv[2])
from core_bench import iter_flow, setup_commands
from trade_engine.core.engine import Engine
setup = setup_commands()
flow = list(islice(iter_flow(7), int(sys.argv[1])))
cmds = setup + flow if sys.argv[3] == "apply" else setup
engine = Engine()
gc.disable()
for i, c in enumerate(cmds, 1):
    engine.apply(i, i, c)
"""


def instructions(python: str, n: int, apply: bool) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        run = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                python,
                "-P",  # the source tree must not shadow a compiled install
                "-c",
                _LOOP,
                str(n),
                str(HERE),
                "apply" if apply else "build-only",
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=tmp,
            env=os.environ | {"PYTHONHASHSEED": "0"},  # str hashes vary the count otherwise
        )
    m = re.search(r"Collected : (\d+)", run.stderr)
    if m is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{run.stderr[-2000:]}")
    return int(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--commands", type=int, default=100_000)
    ap.add_argument("--python", default=sys.executable, help="the interpreter of the build")
    args = ap.parse_args()
    python = os.path.abspath(args.python) if os.sep in args.python else args.python
    # both runs build the same commands; only the second applies the flow's
    base = instructions(python, args.commands, apply=False)
    total = instructions(python, args.commands, apply=True)
    per = (total - base) / args.commands
    compiled = subprocess.run(
        [python, "-P", "-c", "import trade_engine.core.engine as e; print(e.__file__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    build = "pure" if compiled.endswith(".py") else "compiled"
    print(f"build           {build} ({python})")
    print(f"commands        {args.commands:,} of the seeded core flow")
    print(f"instructions    {per:,.0f} per command (the run without the flow: {base:,})")
    print(
        json.dumps(
            {
                "bench": "core_instructions",
                "build": build,
                "commands": args.commands,
                "instructions_per_command": round(per),
                "setup_instructions": base,
                "python": platform.python_version(),
                "machine": platform.machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
