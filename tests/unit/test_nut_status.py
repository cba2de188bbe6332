"""``ups.status`` → flag set, power source, severity: every BR-21 string,
plus the stale/driver-down/frozen flags of BR-20 (R-DEV-POWER: power faults
must raise alarms, and unknown power is never reported as mains)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from examhw.kinds.ups import PowerSource
from examhw_drivers.nut_ups.status import KNOWN_TOKENS, Severity, parse_status

M, B, U = PowerSource.MAINS, PowerSource.BATTERY, PowerSource.UNKNOWN

# BR-21 INPUT list, each with (source, low battery, charging, severity, unknown tokens)
BR21 = [
    ("OL", M, False, False, Severity.OK, set()),
    ("OL CHRG", M, False, True, Severity.OK, set()),
    ("OL CHRG LB", M, True, True, Severity.CRITICAL, set()),
    ("OB DISCHRG", B, False, False, Severity.WARNING, set()),
    ("OB DISCHRG LB", B, True, False, Severity.CRITICAL, set()),
    ("OL BYPASS", M, False, False, Severity.WARNING, set()),
    ("OL BOOST", M, False, False, Severity.NOTICE, set()),
    ("OB LB FSD", B, True, False, Severity.CRITICAL, set()),
    ("OL RB", M, False, False, Severity.WARNING, set()),
    ("ALARM OL", M, False, False, Severity.WARNING, set()),
    ("OL CHRG XYZ", M, False, True, Severity.NOTICE, {"XYZ"}),
    ("", U, False, False, Severity.WARNING, set()),
]


@pytest.mark.parametrize("text,source,low,charging,sev,unknown", BR21)
def test_br21_strings(text, source, low, charging, sev, unknown):
    """R-DEV-POWER / BR-21: multi-flag strings parsed as sets."""
    p = parse_status(text)
    assert p.flags == frozenset(text.split())
    assert p.source == source
    assert p.low_battery is low
    assert p.charging is charging
    assert p.severity == sev
    assert p.unknown == frozenset(unknown)


@pytest.mark.parametrize("text,source,sev", [
    ("WAIT", U, Severity.WARNING),                 # upsd has no data yet
    ("OL OB", U, Severity.WARNING),                # contradiction: never claim mains
    ("FSD OL", M, Severity.CRITICAL),              # FSD counts as low battery
    ("OL HE", M, Severity.NOTICE),                 # unknown token kept
    ("OL DISCHRG", M, Severity.NOTICE),            # APC BK650M2-CH quirk: still on line
    ("ALARM OL CHRG RB", M, Severity.WARNING),
    ("OL CHRG TRIM OFF", M, Severity.WARNING),
    ("OL CAL", M, Severity.NOTICE),
    ("OL LB OVER RB BOOST", M, Severity.CRITICAL),
    ("  OL   CHRG  ", M, Severity.OK),
    (None, U, Severity.WARNING),
])
def test_other_real_strings(text, source, sev):
    p = parse_status(text)
    assert p.source == source and p.severity == sev


def test_order_does_not_matter():
    assert parse_status("LB CHRG OL") == parse_status("OL CHRG LB")


@pytest.mark.parametrize("flag", ["STALE", "DRIVER_DOWN", "FROZEN"])
def test_br20_driver_flags_are_never_mains(flag):
    """R-DEV-POWER / BR-20: stale, driver down and frozen data give UNKNOWN even
    if the last string said OL."""
    p = parse_status("OL", frozenset({flag}))
    assert p.source == U
    assert p.severity >= Severity.WARNING
    assert flag in p.flags and not p.unknown


@given(st.lists(st.sampled_from(sorted(KNOWN_TOKENS) + ["HE", "ECO", "x-y", "TEST"]), max_size=6))
def test_any_token_mix_is_parsed(tokens):
    p = parse_status(" ".join(tokens))
    assert p.flags == frozenset(tokens)
    if p.source == M:
        assert "OL" in p.flags and "OB" not in p.flags
    if "LB" in p.flags or "FSD" in p.flags:
        assert p.severity == Severity.CRITICAL
