"""Optional compiled build of the core.

``TRADE_ENGINE_MYPYC=1 pip install .`` compiles the hot core modules with mypyc (a C
extension per module, same source, same behaviour; see docs/adr/0005). Without it the
package is pure Python. Editable installs should stay pure: a compiled module next to its
source would shadow later edits.
"""

import os

from setuptools import setup

COMPILED = [
    "trade_engine/accounts/fees.py",
    "trade_engine/accounts/ledger.py",
    "trade_engine/core/symbols.py",
    "trade_engine/core/engine.py",
    "trade_engine/core/reasons.py",
    "trade_engine/core/state.py",
    "trade_engine/journal/segment.py",
    "trade_engine/matcher/book.py",
    "trade_engine/matcher/matching.py",
    "trade_engine/matcher/order.py",
]

ext_modules = []
if os.environ.get("TRADE_ENGINE_MYPYC") == "1":
    from mypyc.build import mypycify

    ext_modules = mypycify(COMPILED, opt_level="3")

setup(ext_modules=ext_modules)
