"""GB 11643-1999 citizen ID numbers (ISO 7064 MOD 11-2 check character)."""
from __future__ import annotations

from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def check_char(first17: str) -> str:
    """Check character for the first 17 digits. Raises ``ValueError`` on non-digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("need exactly 17 ASCII digits")
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS)) % 11]


def is_valid(number: str) -> bool:
    """True for an 18-character number whose check character verifies
    (a lower-case ``x`` is accepted)."""
    if len(number) != 18 or not number[:17].isascii() or not number[:17].isdigit():
        return False
    return check_char(number[:17]) == number[17].upper()


def make(region: str, birth: date, sequence: int) -> str:
    """Build a valid number: 6-digit region, birth date, 3-digit sequence
    (odd = male, even = female), check character."""
    body = f"{region}{birth:%Y%m%d}{sequence % 1000:03d}"
    return body + check_char(body)
