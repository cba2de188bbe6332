"""A simulated seat terminal: the candidate answers on the site clock."""
from __future__ import annotations

import asyncio
import random

from ..clock import Clock
from ..flow.exam import AttemptResult, ExamRules, QuestionBank


class SimulatedTerminal:
    """Answers each question right with probability ``skill`` after a
    think time drawn from ``pace_s`` (site seconds); stops at the time limit
    (R-EXAM-1) or when the invigilator stops it."""

    def __init__(self, clock: Clock, rng: random.Random, skill: float, pace_s: tuple[float, float]) -> None:
        self.clock = clock
        self.rng = rng
        self.skill = skill
        self.pace_s = pace_s
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run_attempt(self, bank: QuestionBank, rules: ExamRules, attempt: int) -> AttemptResult:
        res = AttemptResult()
        start = self.clock.now()
        for q, right in enumerate(bank.key, 1):
            think = self.rng.uniform(*self.pace_s)
            if self.clock.now() - start + think > rules.duration_s:
                res.timed_out = True
                break
            try:
                await asyncio.wait_for(self._stop.wait(), self.clock.to_real(think))
                res.stopped = True
                break
            except asyncio.TimeoutError:
                pass
            choices = "TF" if right in "TF" else "ABCD"
            res.answers[q] = right if self.rng.random() < self.skill else self.rng.choice(
                [c for c in choices if c != right])
        res.elapsed_s = self.clock.now() - start
        return res
