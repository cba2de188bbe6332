"""Fault injection applied by endpoints to what a simulator sends."""
from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class FaultPlan:
    """Faults for the next replies (each counter counts replies).

    - ``drop``: swallow the next N replies (device silent → driver timeout);
    - ``garble``: flip one byte in the next N replies (bad checksum);
    - ``split``: deliver the next N replies in chunks of ``chunk`` bytes
      with ``chunk_delay_s`` between them (USB-serial bursts);
    - ``delay_s``: delay every reply (slow device);
    - ``prefix``: bytes sent before the next reply (line noise, once).
    """

    drop: int = 0
    garble: int = 0
    split: int = 0
    chunk: int = 16
    chunk_delay_s: float = 0.002
    delay_s: float = 0.0
    prefix: bytes = b""
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def shape(self, data: bytes) -> list[tuple[float, bytes]]:
        """Turn one reply into ``(delay_before_s, chunk)`` pieces (maybe none)."""
        if self.drop > 0:
            self.drop -= 1
            return []
        if self.garble > 0 and data:
            self.garble -= 1
            i = self.rng.randrange(len(data))
            data = data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1:]
        if self.prefix:
            data, self.prefix = self.prefix + data, b""
        if self.split > 0 and len(data) > self.chunk:
            self.split -= 1
            parts = [data[i:i + self.chunk] for i in range(0, len(data), self.chunk)]
            return [(self.delay_s if n == 0 else self.chunk_delay_s, p) for n, p in enumerate(parts)]
        return [(self.delay_s, data)]
