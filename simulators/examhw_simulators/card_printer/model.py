"""Behavioural model of an Evolis-style card printer.

Time comes from the site clock and is evaluated lazily: every query or
action first calls :meth:`CardPrinterModel.advance`, which applies the job
steps whose time has come. A job (``Se`` accepted) takes ``print_time_s``
site-seconds: card fed at 0, front K panel at 0.3 T, back at 0.5 T,
magnetic encoding 0.7–0.9 T, ejected at T.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from examhw.clock import Clock
from examhw.sim.base import SimModel, action

from .codec import LINE_DOTS, LINES

# Status word bits (Evolis C library values; docs/protocols/evolis-escape.md §5).
INF_BUSY = 0x00000001
INF_ENCODING_RUNNING = 0x00000040
INF_PRINTING_RUNNING = 0x00000080
INF_RIBBON_LOW = 0x00080000
INF_CARD_PRINT = 0x02000000
INF_CARD_FEEDER = 0x20000000
WAR_NO_RIBBON = 0x00010000
WAR_COVER_OPEN = 0x00020000
WAR_RIBBON_ENDED = 0x00080000
WAR_FEEDER_EMPTY = 0x01000000
ERR_WRITE_MAGNETIC = 0x00010000
ERR_RIBBON_ENDED = 0x00200000
ERR_MECHANICAL = 0x01000000
ERR_COVER_OPEN = 0x02000000
ERR_FEEDER_ERROR = 0x08000000
EX1_INF_FEEDER_NEAR_EMPTY = 0x00000100

#: latched ERR bit → NACK code refusing the next ``Se``
_ERR_CODES = ((ERR_COVER_OPEN, "C"), (ERR_RIBBON_ENDED, "R"), (ERR_FEEDER_ERROR, "F"))
#: latched ERR bit → text of ``Rlr;p``
_LAST_ERROR = {ERR_MECHANICAL: "ERR JAM", ERR_COVER_OPEN: "ERR COVER", ERR_RIBBON_ENDED: "ERR RIBBON",
               ERR_FEEDER_ERROR: "NO CARD", ERR_WRITE_MAGNETIC: "ERR CARD"}


@dataclass
class Sequence:
    """What a connection downloaded between ``Ss`` and ``Se``."""

    side: str = ""                                   # "front" | "back" | ""
    panels: dict[str, bytes] = field(default_factory=dict)   # "front_k" → packed bitmap
    mag: dict[int, str] = field(default_factory=dict)


@dataclass
class CapturedCard:
    """A job the printer ran (kept for inspection by tests and the demo)."""

    number: int
    panels: dict[str, bytes]
    mag: dict[int, str]
    started_at: float
    state: str = "printing"          # printing | done | failed
    error: str = ""
    finished_at: float | None = None
    steps_done: int = 0

    def bitmap(self, key: str = "front_k") -> np.ndarray:
        """The panel as a (1016, 648) bool array, True = printed dot.
        Raises KeyError if that panel was not downloaded."""
        data = np.frombuffer(self.panels[key][:LINES * LINE_DOTS // 8], dtype=np.uint8)
        return np.unpackbits(data, bitorder="big").reshape(LINES, LINE_DOTS).astype(bool)

    def summary(self) -> dict[str, Any]:
        return {"number": self.number, "state": self.state, "error": self.error,
                "panels": sorted(self.panels), "mag_tracks": sorted(self.mag)}


class CardPrinterModel(SimModel):
    """Printer state: feeder cards, ribbon panels, cover, latched errors,
    ACK/NACK mode, counters and the job in progress."""

    def __init__(self, clock: Clock, *, print_time_s: float = 20.0, cards: int = 100,
                 ribbon_panels: int = 1000, ribbon_low_at: int = 50, feeder_low_at: int = 5,
                 model_name: str = "Evolis Pebble 4 (sim)", serial: str = "SIM-EVO-0001",
                 firmware: str = "1.6.4-sim") -> None:
        self.clock = clock
        self.print_time_s = float(print_time_s)
        self.cards = int(cards)
        self.ribbon = int(ribbon_panels)
        self.ribbon_low_at = int(ribbon_low_at)
        self.feeder_low_at = int(feeder_low_at)
        self.model_name, self.serial, self.firmware = model_name, serial, firmware
        self.cover_open_ = False
        self.err = 0
        self.last_error = "OK"
        self.ack_nack = False
        self.insertion = "F"
        self.cards_printed = 0
        self.panels_printed = 0
        self.jobs: list[CapturedCard] = []
        self.current: CapturedCard | None = None

    # -- time ------------------------------------------------------------------
    def _steps(self, card: CapturedCard) -> list[tuple[float, str]]:
        t = self.print_time_s
        steps: list[tuple[float, str]] = []
        if "front_k" in card.panels:
            steps.append((0.3 * t, "front_k"))
        if "back_k" in card.panels:
            steps.append((0.5 * t, "back_k"))
        if card.mag:
            steps.append((0.7 * t, "encode"))
            steps.append((0.9 * t, "encoded"))
        steps.append((t, "eject"))
        return steps

    def advance(self) -> None:
        """Apply every job step whose site time has come."""
        card = self.current
        if card is None:
            return
        elapsed = self.clock.now() - card.started_at
        steps = self._steps(card)
        while card.steps_done < len(steps) and steps[card.steps_done][0] <= elapsed:
            at, step = steps[card.steps_done]
            card.steps_done += 1
            if step in ("front_k", "back_k"):
                if self.ribbon <= 0:
                    self._fail(ERR_RIBBON_ENDED, "ribbon_out", at=card.started_at + at)
                    return
                self.ribbon -= 1
                self.panels_printed += 1
            elif step == "eject":
                card.state = "done"
                card.finished_at = card.started_at + at
                self.cards_printed += 1
                self.current = None
                return

    def _encoding(self) -> bool:
        card = self.current
        if card is None or not card.mag:
            return False
        steps = [s for _, s in self._steps(card)]
        done = steps[:card.steps_done]
        return "encode" in done and "encoded" not in done

    def _fail(self, bit: int, error: str, at: float | None = None) -> None:
        self.err |= bit
        self.last_error = _LAST_ERROR.get(bit, "ERR CARD")
        card = self.current
        if card is not None:
            card.state = "failed"
            card.error = error
            card.finished_at = self.clock.now() if at is None else at
            self.current = None

    # -- protocol-facing operations --------------------------------------------
    @property
    def busy(self) -> bool:
        self.advance()
        return self.current is not None

    def start_job(self, seq: Sequence) -> str | None:
        """``Se``: start printing ``seq``. Returns a NACK code when refused
        (docs §4.1 order), else ``None``."""
        self.advance()
        if self.current is not None:
            return "1"
        if self.err:
            for bit, code in _ERR_CODES:
                if self.err & bit:
                    return code
            return "T"
        if self.cover_open_:
            return "C"
        if self.ribbon <= 0:
            return "R"
        if self.cards <= 0:
            self.last_error = "NO CARD"
            return "F"
        self.cards -= 1
        card = CapturedCard(len(self.jobs) + 1, dict(seq.panels), dict(seq.mag), self.clock.now())
        self.jobs.append(card)
        self.current = card
        self.last_error = "OK"
        return None

    def reset(self) -> None:
        """``Srs``: clear latched errors and the last error."""
        self.advance()
        self.err = 0
        self.last_error = "OK"

    def status_words(self) -> tuple[int, int, int, int, int]:
        """(CFG, INF, WAR, ERR, EX1) now."""
        self.advance()
        inf = war = ex1 = 0
        if self.current is not None:
            inf |= INF_BUSY | INF_PRINTING_RUNNING | INF_CARD_PRINT
            if self._encoding():
                inf |= INF_ENCODING_RUNNING
        if self.cards > 0:
            inf |= INF_CARD_FEEDER
            if self.cards <= self.feeder_low_at:
                ex1 |= EX1_INF_FEEDER_NEAR_EMPTY
        else:
            war |= WAR_FEEDER_EMPTY
        if self.ribbon <= 0:
            war |= WAR_RIBBON_ENDED
        elif self.ribbon <= self.ribbon_low_at:
            inf |= INF_RIBBON_LOW
        if self.cover_open_:
            war |= WAR_COVER_OPEN
        return 0, inf, war, self.err, ex1

    # -- actions (backdoor verbs) -------------------------------------------------
    @action
    def ribbon_out(self) -> None:
        """The ribbon ends: no panel left; a card being printed fails."""
        self.advance()
        self.ribbon = 0
        if self.current is not None:
            self._fail(ERR_RIBBON_ENDED, "ribbon_out")

    @action
    def feeder_empty(self) -> None:
        """Take every blank card out of the feeder (input stack)."""
        self.advance()
        self.cards = 0

    @action
    def jam(self) -> None:
        """Card jam: latches ERR_MECHANICAL; a card being printed fails."""
        self.advance()
        if self.current is not None:
            self._fail(ERR_MECHANICAL, "jam")
        else:
            self.err |= ERR_MECHANICAL
            self.last_error = _LAST_ERROR[ERR_MECHANICAL]

    @action
    def cover_open(self) -> None:
        """Open the cover; a card being printed fails (ERR_COVER_OPEN)."""
        self.advance()
        self.cover_open_ = True
        if self.current is not None:
            self._fail(ERR_COVER_OPEN, "cover_open")

    @action
    def clear_errors(self) -> None:
        """Operator fixes the printer: cover closed, latched errors cleared."""
        self.advance()
        self.cover_open_ = False
        self.err = 0
        self.last_error = "OK"

    @action
    def load_cards(self, n: int) -> int:
        """Add ``n`` blank cards to the feeder; returns the new count."""
        if int(n) < 0:
            raise ValueError("n must be >= 0")
        self.advance()
        self.cards += int(n)
        return self.cards

    @action
    def set_ribbon(self, panels: int) -> None:
        """Fit a ribbon with ``panels`` panels left."""
        if int(panels) < 0:
            raise ValueError("panels must be >= 0")
        self.advance()
        self.ribbon = int(panels)

    def snapshot(self) -> dict[str, Any]:
        self.advance()
        words = self.status_words()
        return {"cards_in_feeder": self.cards, "ribbon_panels": self.ribbon,
                "cover_open": self.cover_open_, "busy": self.current is not None,
                "cards_printed": self.cards_printed, "last_error": self.last_error,
                "ack_nack": self.ack_nack, "status": ";".join(f"{w:08X}" for w in words),
                "jobs": [j.summary() for j in self.jobs]}
