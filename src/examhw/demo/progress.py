"""A plain-text progress bar on stderr (no terminal library needed)."""
from __future__ import annotations

import sys
import time
from collections import Counter


class Progress:
    def __init__(self, total: int, *, enabled: bool = True, width: int = 30) -> None:
        self.total = total
        self.enabled = enabled
        self.width = width
        self.done = 0
        self.counts: Counter[str] = Counter()
        self.t0 = time.perf_counter()
        self._tty = sys.stderr.isatty()
        self._last = 0.0

    def note(self, text: str) -> None:
        if self.enabled:
            print(f"[{time.perf_counter() - self.t0:6.1f}s] {text}", file=sys.stderr, flush=True)

    def advance(self, outcome: str) -> None:
        self.done += 1
        self.counts[outcome or "unknown"] += 1
        if not self.enabled:
            return
        now = time.perf_counter()
        if not self._tty and self.done != self.total and now - self._last < 1.0:
            return
        self._last = now
        filled = int(self.width * self.done / max(1, self.total))
        bar = "#" * filled + "-" * (self.width - filled)
        tally = " ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        line = f"[{bar}] {self.done}/{self.total}  {tally}  ({now - self.t0:.1f}s)"
        print(("\r" + line) if self._tty else line, end="" if self._tty else "\n", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.enabled and self._tty:
            print(file=sys.stderr)
