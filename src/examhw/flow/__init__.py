"""The exam-day flow: roster → check-in (random seat) → screening → gate
(ID + face) → seat identity check → exam → scoring → printed sheet →
signature bound to the sheet → archive, with UPS monitoring and sanctions."""
from .exam import AttemptResult, ExamRules, QuestionBank
from .roster import BlacklistEntry, Candidate, Roster
from .seating import SeatAllocator

__all__ = ["AttemptResult", "BlacklistEntry", "Candidate", "ExamRules", "QuestionBank", "Roster",
           "SeatAllocator"]
