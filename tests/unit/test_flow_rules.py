import random
from datetime import date, datetime, timezone

import pytest

from examhw import idnumber
from examhw.flow import ExamRules, QuestionBank, SeatAllocator
from examhw.flow.seating import NoSeatLeft
from examhw.flow.sheet import SheetData, masked, render_sheet, sha256


def test_exam_rules_defaults():
    # R-EXAM-1 / R-EXAM-2
    r = ExamRules()
    assert (r.questions, r.duration_s, r.pass_mark, r.retakes) == (100, 2700, 90, 1)


def test_scoring_counts_right_answers_only():
    bank = QuestionBank.generate(random.Random(1))
    perfect = {i: a for i, a in enumerate(bank.key, 1)}
    assert bank.score(perfect) == 100
    ten_wrong = dict(perfect)
    for q in range(1, 11):
        ten_wrong[q] = "X"
    assert bank.score(ten_wrong) == 90
    assert bank.score({}) == 0


def test_seats_are_random_and_accessible_seat_is_kept():
    # R-OPS-CHECKIN (random seat), R-CAP-1 (accessible seat)
    draws = []
    for _ in range(20):
        alloc = SeatAllocator(100, (1,))
        draws.append(tuple(alloc.assign(accessible=False) for _ in range(5)))
    assert len(set(draws)) > 15
    alloc = SeatAllocator(100, (1,))
    taken = {alloc.assign(accessible=False) for _ in range(99)}
    assert 1 not in taken and len(taken) == 99
    with pytest.raises(NoSeatLeft):
        alloc.assign(accessible=False)
    assert alloc.assign(accessible=True) == 1
    with pytest.raises(NoSeatLeft):
        alloc.assign(accessible=True)


def test_id_numbers():
    assert idnumber.is_valid("11010519491231002X") and idnumber.is_valid("440524188001010014")
    assert not idnumber.is_valid("110105194912310021")
    n = idnumber.make("110101", date(1990, 3, 7), 1)
    assert n == "110101199003070011" and idnumber.is_valid(n)


def test_sheet_pdf_is_deterministic_and_masks_the_id_number():
    d = SheetData(session_id="S1", site_name="site", candidate_id="C0001", name_latin="ZHANG San",
                  id_number="110101199003070011", seat=42, attempts=[85, 93], score=93, result="PASS",
                  pass_mark=90, issued_at=datetime(2026, 12, 3, 9, 30, tzinfo=timezone.utc))
    a, b = render_sheet(d), render_sheet(d)
    assert a.startswith(b"%PDF") and a == b and sha256(a) == sha256(b)
    assert masked(d.id_number) == "110101********0011"
