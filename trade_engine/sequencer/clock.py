"""The engine clock: wall time in nanoseconds that never runs backwards."""

from __future__ import annotations

import time


class EngineClock:
    """Stamps commands. If the wall clock steps back (NTP), time stands still until it catches
    up, so engine timestamps are monotonic across the whole journal, restarts included."""

    def __init__(self, last: int = 0) -> None:
        self._last = last

    def now(self) -> int:
        t = time.time_ns()
        if t > self._last:
            self._last = t
        return self._last
