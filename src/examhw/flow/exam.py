"""Exam rules, question bank and seat-terminal attempts (R-EXAM-1, R-EXAM-2)."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class ExamRules:
    """100 questions, 45 minutes, pass mark 90, one immediate retake."""

    questions: int = 100
    duration_s: float = 45 * 60
    pass_mark: int = 90
    retakes: int = 1


@dataclass(frozen=True)
class QuestionBank:
    """Answer key of one paper: ``key[i]`` is the right choice of question i+1."""

    key: tuple[str, ...]

    @classmethod
    def generate(cls, rng: random.Random, n: int = 100) -> "QuestionBank":
        # Theory papers mix true/false and 4-choice questions.
        return cls(tuple(rng.choice("TF") if i < 40 else rng.choice("ABCD") for i in range(n)))

    def score(self, answers: dict[int, str]) -> int:
        """Marks out of len(key): one per correct answer (unanswered = wrong)."""
        return sum(1 for i, right in enumerate(self.key, 1) if answers.get(i) == right)


@dataclass
class AttemptResult:
    """What a seat terminal returns for one attempt."""

    answers: dict[int, str] = field(default_factory=dict)
    elapsed_s: float = 0.0
    timed_out: bool = False
    stopped: bool = False          # stopped by the invigilator (cheating)


class SeatTerminal(Protocol):
    """The candidate's exam terminal at a seat."""

    async def run_attempt(self, bank: QuestionBank, rules: ExamRules, attempt: int) -> AttemptResult: ...

    def stop(self) -> None:
        """Invigilator stops the exam now (the attempt returns ``stopped``)."""
