"""Random seat assignment (R-OPS-CHECKIN, R-CAP-1)."""
from __future__ import annotations

import secrets

from ..errors import ExamHwError


class NoSeatLeft(ExamHwError):
    """Every seat of the right type is taken."""


class SeatAllocator:
    """Assigns seats at random with a cryptographic RNG.

    Accessible seats are kept for candidates who need one; a candidate who
    needs one gets an accessible seat (or :class:`NoSeatLeft`).
    """

    def __init__(self, seats: int, accessible: tuple[int, ...]) -> None:
        self.accessible = frozenset(accessible)
        self._free = set(range(1, seats + 1))
        self._rng = secrets.SystemRandom()

    def assign(self, *, accessible: bool) -> int:
        pool = sorted(self._free & self.accessible) if accessible else sorted(self._free - self.accessible)
        if not pool:
            raise NoSeatLeft("no accessible seat left" if accessible else "no seat left")
        seat = self._rng.choice(pool)
        self._free.discard(seat)
        return seat

    def release(self, seat: int) -> None:
        self._free.add(seat)

    @property
    def free(self) -> int:
        return len(self._free)
