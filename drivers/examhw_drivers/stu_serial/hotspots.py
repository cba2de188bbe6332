"""Host-side OK / Clear / Cancel hotspots on the pad screen.

STU-430/530 pads have no hardware buttons: the host draws three boxes and
recognises taps inside them (docs/protocols/stu-serial.md §6). The bar is
the bottom sixth of the screen, split into OK | Clear | Cancel.
"""
from __future__ import annotations

from dataclasses import dataclass

OK = "ok"
CLEAR = "clear"
CANCEL = "cancel"
BUTTONS = (OK, CLEAR, CANCEL)


@dataclass(frozen=True)
class ButtonLayout:
    """Button geometry for one pad. Screen sizes in pixels, tablet maxima
    in tablet units (from the Capability report)."""

    screen_width: int
    screen_height: int
    tablet_max_x: int
    tablet_max_y: int

    @property
    def bar_top(self) -> int:
        """First screen row of the button bar."""
        return self.screen_height - self.screen_height // 6

    def to_screen(self, x: int, y: int) -> tuple[int, int]:
        """Tablet units → screen pixels."""
        return (x * self.screen_width // (self.tablet_max_x + 1),
                y * self.screen_height // (self.tablet_max_y + 1))

    def box(self, button: str) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` of a button in screen pixels, x1/y1 exclusive."""
        i = BUTTONS.index(button)
        w = self.screen_width
        return (i * w // 3, self.bar_top, (i + 1) * w // 3, self.screen_height)

    def button_at(self, x: int, y: int) -> str | None:
        """The button under tablet point (x, y), or ``None`` (signing area)."""
        sx, sy = self.to_screen(x, y)
        if sy < self.bar_top:
            return None
        for name in BUTTONS:
            x0, y0, x1, y1 = self.box(name)
            if x0 <= sx < x1 and y0 <= sy < y1:
                return name
        return None
