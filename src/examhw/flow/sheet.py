"""The score sheet (成绩单) as a PDF, and its SHA-256 (R-OPS-SCORE).

Built-in PDF fonts cover Latin-1 only, so the sheet prints the candidate's
romanised name; the Chinese name stays in the archive record.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from fpdf import FPDF


@dataclass(frozen=True)
class SheetData:
    session_id: str
    site_name: str
    candidate_id: str
    name_latin: str
    id_number: str
    seat: int
    attempts: list[int]
    score: int
    result: str               # "PASS" | "FAIL" | "SANCTIONED"
    pass_mark: int
    issued_at: datetime
    note: str = ""


def masked(id_number: str) -> str:
    """ID number with the middle hidden, as printed on slips."""
    return id_number[:6] + "*" * 8 + id_number[14:] if len(id_number) == 18 else id_number


def render_sheet(d: SheetData) -> bytes:
    """Render the sheet; the same data always gives the same bytes."""
    pdf = FPDF(format="A4")
    pdf.set_creation_date(d.issued_at)
    pdf.set_title(f"Score sheet {d.candidate_id}")
    pdf.set_producer("examhw")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, "Driving-licence theory exam (subject one) - score sheet", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    rows = [
        ("Exam site", d.site_name), ("Session", d.session_id), ("Candidate", d.candidate_id),
        ("Name", d.name_latin), ("ID number", masked(d.id_number)), ("Seat", str(d.seat)),
        ("Attempts", ", ".join(str(a) for a in d.attempts) or "-"), ("Final score", f"{d.score} / 100"),
        ("Pass mark", str(d.pass_mark)), ("Result", d.result), ("Issued", d.issued_at.strftime("%Y-%m-%d %H:%M UTC")),
    ]
    if d.note:
        rows.append(("Note", d.note))
    for label, value in rows:
        pdf.cell(45, 8, label)
        pdf.cell(0, 8, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.cell(0, 8, "Candidate signature (captured on the signature pad, bound to this document's SHA-256):",
             new_x="LMARGIN", new_y="NEXT")
    pdf.rect(pdf.get_x(), pdf.get_y(), 90, 30)
    pdf.ln(35)
    pdf.cell(0, 8, "Examiner signature:", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
