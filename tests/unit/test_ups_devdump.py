"""Parser of NUT DDL ``.dev`` dumps (the simulator's replay data): every copied
dump parses, comment tails are stripped like dummy-ups does, empty values are
kept (R-DEV-POWER: the UPS simulator replays real devices)."""
from __future__ import annotations

from pathlib import Path

import pytest

from examhw_simulators.ups import packaged_dumps
from examhw_simulators.ups.devdump import load_dump, parse_dump, split_value_words
from examhw_simulators.ups.server import open_dump

DATA = Path(__file__).parent.parent / "data" / "ups"
DUMPS = sorted(DATA.glob("*.dev"))


def test_dumps_were_copied():
    assert len(DUMPS) >= 4
    assert (DATA / "SOURCES.md").is_file()


@pytest.mark.parametrize("path", DUMPS, ids=lambda p: p.stem)
def test_every_dump_parses(path):
    """R-DEV-POWER: each data line is one variable, comments are not data."""
    dump = load_dump(path)
    data_lines = [ln for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()
                  if ln[:1].isalpha()]
    assert dump.skipped == ()
    assert len(dump.vars) == len(data_lines)
    assert "ups.status" in dump.vars
    for name, value in dump.vars.items():
        assert name and " " not in name and not name.endswith(":")
        assert "#" not in value and "\t" not in value and value == value.strip()
    assert dump.reports, "every DDL dump names its report"


def test_tails_are_stripped():
    assert load_dump(DATA / "APC__Smart-UPS_2200__usbhid-ups__2.7.4__01.dev").vars["battery.runtime"] == "65535"
    assert load_dump(DATA / "Eaton__5E2200USB-LA__nutdrv_qx__2.7.4.1__01.dev").vars["ups.status"] == "OL CAL"
    es = load_dump(DATA / "APC__Back-UPS_ES_750__usbhid-ups__2.6.4__01.dev")
    assert es.vars["battery.runtime"] == "0"
    assert es.vars["ups.status"] == "OL CHRG LB"


def test_empty_values_are_empty_strings():
    apc = load_dump(DATA / "APC__Smart-UPS_750__apc_modbus__2.8.2__01.dev")
    assert apc.vars["outlet.group.2.name"] == "" and apc.vars["outlet.group.3.name"] == ""
    assert apc.vars["ups.test.result"] == "Passed, Source: Internal"
    riello = load_dump(DATA / "Riello__Sentinel_Pro_1000_UOD1-XL__riello_ser__2.6.5__01.dev")
    assert riello.vars["device.serial"] == "" and riello.vars["ups.serial"] == ""


def test_big_comment_block_is_not_data():
    bk = load_dump(DATA / "APC__Back-UPS_BK650M2-CH__usbhid-ups__2.8.0__01.dev")
    assert bk.vars["ups.status"] == "OL DISCHRG"
    assert bk.vars["device.model"] == "BK650M2-CH"
    assert len(bk.vars) == 46


def test_rw_and_cmd_metadata():
    eaton = load_dump(DATA / "Eaton__5PX_2000__usbhid-ups__2.7.4__01.dev")
    assert eaton.rw["battery.charge.low"].type == "STRING" and eaton.rw["battery.charge.low"].maxlen == 5
    assert eaton.rw["output.voltage.nominal"].values == ("200", "208", "220", "230", "240")
    assert "beeper.disable" in eaton.commands and "test.battery.stop" in eaton.commands
    assert eaton.vars["ups.alarm"] == "Replace battery!"


def test_dummy_ups_word_rules():
    """Rules measured on dummy-ups 2.8.0 (docs/protocols/nut.md §7)."""
    text = ('spaces.val: a   b  c\nquoted.val: say "hi" there\nback.val: C:\\path\\x\n'
            "hash.val: A#B\ntail.tab: 42\t#BAD: overflow\nquoted.whole: \"in quotes\"\n"
            "lead.sp:    lead\nmulti.colon: a: b\nempty.one:\nempty.two: \n"
            "dup: 1\ndup: 2\nno colon here\n   \n# comment: x\n")
    d = parse_dump(text, "syn")
    assert d.vars == {"spaces.val": "a b c", "quoted.val": "say hi there", "back.val": "C:pathx",
                      "hash.val": "A", "tail.tab": "42", "quoted.whole": "in quotes",
                      "lead.sp": "lead", "multi.colon": "a: b", "empty.one": "", "empty.two": "",
                      "dup": "2"}
    assert d.skipped == ((13, "no colon here"),)
    assert split_value_words('a "b c') == ["a", "b c"]


def test_packaged_dumps_match_test_copies():
    names = packaged_dumps()
    for required in ("Santak__Castle_C1K__blazer_ser__2.7.4__01.dev",
                     "APC__Back-UPS_BK650M2-CH__usbhid-ups__2.8.0__01.dev",
                     "Eaton__5PX_2000__usbhid-ups__2.7.4__01.dev",
                     "Cyber_Power_Systems__CP1500PFCLCD__usbhid-ups__2.7.4__02.dev"):
        assert required in names
        assert open_dump(required).vars == load_dump(DATA / required).vars
    assert open_dump("Santak__Castle_C1K__blazer_ser__2.7.4__01").name.endswith(".dev")


def test_latin1_dump():
    d = parse_dump(b"device.mfr: K\xf6nig\n".decode("latin-1"))
    assert d.vars["device.mfr"] == "König"
