"""The 256-byte text block: the driver's decoder (examhw_drivers.sam_serial.text) and
the simulator's encoder (examhw_simulators.idcard.model.encode_text) against the
research vectors A, B, J, I, Y, and against each other.

The decoded fields are what check-in (R-OPS-CHECKIN), the service desk (R-DEV-DESK)
and the gate (R-DEV-GATE) compare with the roster."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from examhw.errors import FrameError
from examhw_drivers.sam_serial.text import (NATIONS, SEX_CODES, check_character, id_number_valid,
                                            parse_text)
from examhw_simulators.idcard.model import SimCard, encode_text

DATA = Path(__file__).resolve().parents[1] / "data" / "idcard"


def vec(name: str) -> bytes:
    return bytes.fromhex((DATA / f"{name}.hex").read_text().replace("\n", ""))


CARD_A = SimCard(name="张三", sex="1", nation="01", birth=date(1990, 3, 7), address="北京市东城区示例大街1号",
                 id_number="110101199003070011", authority="北京市公安局东城分局",
                 valid_from=date(2017, 7, 27), valid_to=date(2037, 7, 27))
CARD_B = SimCard(name="李示例", sex="2", nation="01", birth=date(1949, 12, 31), address="北京市朝阳区示例路2号",
                 id_number="11010519491231002X", authority="北京市公安局朝阳分局",
                 valid_from=date(2010, 1, 1), valid_to=None)
CARD_J = SimCard(name="陈示例", sex="1", nation="", birth=date(1990, 1, 1), address="北京市朝阳区示例路3号",
                 id_number="810000199001010019", authority="北京市公安局朝阳分局",
                 valid_from=date(2020, 1, 1), valid_to=date(2025, 1, 1), card_type="J",
                 pass_number="H12345678", issue_count="01")
CARD_I = SimCard(name="约翰", sex="1", nation="", birth=date(1990, 1, 1), address="",
                 id_number="USA110090010101", authority="1100", valid_from=date(2020, 1, 1),
                 valid_to=date(2030, 1, 1), card_type="I", english_name="SAMPLE TESTER JOHN",
                 nationality="USA", card_version="01")
CARD_Y = SimCard(name="约翰", sex="1", nation="", birth=date(1990, 1, 1), address="",
                 id_number="911840199001010018", authority="", valid_from=date(2024, 1, 1),
                 valid_to=date(2034, 1, 1), card_type="Y", english_name="SAMPLE TESTER JOHN",
                 nationality="USA", renewal_count="00")

BLOCKS = {"A": (CARD_A, vec("vector_a_base_read")[14:270]), "B": (CARD_B, vec("text_b_long_term")),
          "J": (CARD_J, vec("text_j")), "I": (CARD_I, vec("text_i")), "Y": (CARD_Y, vec("text_y"))}


@pytest.mark.parametrize("name", list(BLOCKS))
def test_simulator_encodes_each_vector_block_exactly(name):
    card, block = BLOCKS[name]
    assert encode_text(card) == block


def test_vector_a_parses_to_exactly_its_table():
    f = parse_text(BLOCKS["A"][1])
    assert (f.card_type, f.name, f.sex, f.nation, f.birth_date, f.address, f.id_number, f.authority,
            f.valid_from, f.valid_to) == (
        "resident", "张三", "1", "01", date(1990, 3, 7), "北京市东城区示例大街1号", "110101199003070011",
        "北京市公安局东城分局", date(2017, 7, 27), date(2037, 7, 27))
    assert f.id_number_valid and f.warnings == () and f.extra == {}
    assert (f.english_name, f.nationality) == ("", "")


def test_vector_b_long_term_validity():
    f = parse_text(BLOCKS["B"][1])
    assert (f.name, f.sex, f.birth_date, f.id_number, f.valid_from, f.valid_to) == (
        "李示例", "2", date(1949, 12, 31), "11010519491231002X", date(2010, 1, 1), None)
    assert f.id_number_valid and f.warnings == ()


def test_vector_j_residence_permit():
    f = parse_text(BLOCKS["J"][1])
    assert (f.card_type, f.name, f.sex, f.nation, f.birth_date, f.address, f.id_number, f.authority,
            f.valid_from, f.valid_to) == (
        "J", "陈示例", "1", "", date(1990, 1, 1), "北京市朝阳区示例路3号", "810000199001010019",
        "北京市公安局朝阳分局", date(2020, 1, 1), date(2025, 1, 1))
    assert f.extra == {"pass_number": "H12345678", "issue_count": "01"}
    assert f.id_number_valid and f.warnings == ()


def test_vector_i_foreigner_2017():
    f = parse_text(BLOCKS["I"][1])
    assert (f.card_type, f.name, f.english_name, f.sex, f.id_number, f.nationality, f.birth_date,
            f.valid_from, f.valid_to, f.authority) == (
        "I", "约翰", "SAMPLE TESTER JOHN", "1", "USA110090010101", "USA", date(1990, 1, 1),
        date(2020, 1, 1), date(2030, 1, 1), "1100")
    assert f.extra == {"card_version": "01"}
    assert f.id_number_valid is False          # 15-char check rule not implemented (docs §7.3)
    assert (f.nation, f.address) == ("", "")


def test_vector_y_foreigner_2023():
    f = parse_text(BLOCKS["Y"][1])
    assert (f.card_type, f.name, f.english_name, f.sex, f.id_number, f.nationality, f.birth_date,
            f.valid_from, f.valid_to) == (
        "Y", "约翰", "SAMPLE TESTER JOHN", "1", "911840199001010018", "USA", date(1990, 1, 1),
        date(2024, 1, 1), date(2034, 1, 1))
    assert f.extra == {"renewal_count": "00", "previous_number": ""}
    assert f.id_number_valid and f.warnings == ()


def test_y_block_read_without_its_flag_would_look_resident_and_warns():
    block = bytearray(BLOCKS["Y"][1])
    block[248:250] = " ".encode("utf-16-le")
    f = parse_text(bytes(block))
    assert f.card_type == "resident"
    assert "id_number starts with 9 but the card-type flag is not Y" in f.warnings


def test_long_english_name_spans_both_y_fields():
    long_name = "ABCDEFGHIJ KLMNOPQRST UVWXYZ ABCDEFG HIJKLMNO"     # 44 chars
    card = SimCard(**{**CARD_Y.__dict__, "english_name": long_name})
    assert parse_text(encode_text(card)).english_name == long_name
    with pytest.raises(ValueError):
        encode_text(SimCard(**{**CARD_Y.__dict__, "english_name": "X" * 47}))


# -- check character -----------------------------------------------------------------

@pytest.mark.parametrize("number", ["11010519491231002X", "440524188001010014", "110101199003070011",
                                    "810000199001010019", "911840199001010018", "11010519491231002x"])
def test_published_numbers_verify(number):
    assert id_number_valid(number)


@pytest.mark.parametrize("number", ["110101199003070012", "11010519491231002", "1101051949123100XX",
                                    "A10101199003070011", "１１０１０１１９９００３０７００１１"])
def test_bad_numbers_do_not_verify(number):
    assert not id_number_valid(number)


@settings(max_examples=100, deadline=None)
@given(st.text("0123456789", min_size=17, max_size=17), st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_change_is_detected(digits, pos, delta):
    number = digits + check_character(digits)
    assert id_number_valid(number)
    changed = digits[:pos] + str((int(digits[pos]) + delta) % 10) + digits[pos + 1:]
    assert not id_number_valid(changed + number[17])


def test_code_tables():
    assert SEX_CODES == {"0": "unknown", "1": "male", "2": "female", "9": "not stated"}
    assert len(NATIONS) == 58 and NATIONS["01"] == "汉" and NATIONS["56"] == "基诺"
    assert NATIONS["97"] == "其他" and NATIONS["98"] == "外国血统中国籍人士"


# -- cross-checks and errors -----------------------------------------------------------

def test_birth_and_sex_mismatch_are_warnings_naming_fields_only():
    card = SimCard(**{**CARD_A.__dict__, "birth": date(1990, 3, 8), "sex": "2"})
    f = parse_text(encode_text(card))
    assert "birth_date does not match id_number" in f.warnings
    assert "sex does not match id_number sequence parity" in f.warnings
    assert f.id_number_valid                        # the number itself is fine
    assert not any("110101" in w or "张" in w for w in f.warnings)


def test_unknown_codes_and_bad_check_digit_warn():
    card = SimCard(**{**CARD_A.__dict__, "sex": "5", "nation": "77", "id_number": "110101199003070012"})
    f = parse_text(encode_text(card))
    assert {"sex code not in GB/T 2261.1", "nation code not in GB 3304",
            "id_number check character does not verify"} <= set(f.warnings)
    assert not f.id_number_valid and f.sex == "5"


def test_malformed_blocks_are_frame_errors():
    block = BLOCKS["A"][1]
    with pytest.raises(FrameError):
        parse_text(block[:255])
    bad_date = bytearray(block)
    bad_date[36:52] = "19901399".encode("utf-16-le")
    with pytest.raises(FrameError):
        parse_text(bytes(bad_date))
    not_digits = bytearray(block)
    not_digits[188:204] = "2017-7-2".encode("utf-16-le")
    with pytest.raises(FrameError):
        parse_text(bytes(not_digits))
    surrogate = bytearray(block)
    surrogate[0:2] = b"\x00\xD8"                    # lone high surrogate
    with pytest.raises(FrameError):
        parse_text(bytes(surrogate))
    long_term_from = bytearray(block)
    long_term_from[188:204] = "长期      ".encode("utf-16-le")
    with pytest.raises(FrameError):
        parse_text(bytes(long_term_from))


def test_nul_padding_is_stripped_like_spaces():
    block = bytearray(BLOCKS["A"][1])
    block[4:30] = bytes(26)
    assert parse_text(bytes(block)).name == "张三"


# -- encoder and decoder agree on random cards ----------------------------------------------

cjk = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
days = st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31))


@settings(max_examples=80, deadline=None)
@given(name=st.text(cjk, min_size=1, max_size=15), sex=st.sampled_from("0129"),
       nation=st.sampled_from(sorted(NATIONS)), birth=days, address=st.text(cjk, max_size=35),
       digits=st.text("0123456789", min_size=17, max_size=17), authority=st.text(cjk, max_size=15),
       valid_from=days, valid_to=st.none() | days, kind=st.sampled_from(["resident", "J"]))
def test_random_resident_and_j_cards_round_trip(name, sex, nation, birth, address, digits, authority,
                                                valid_from, valid_to, kind):
    number = digits + check_character(digits)
    card = SimCard(name=name, sex=sex, nation=nation if kind == "resident" else "", birth=birth,
                   address=address, id_number=number, authority=authority, valid_from=valid_from,
                   valid_to=valid_to, card_type=kind, pass_number="H00000001" if kind == "J" else "",
                   issue_count="02" if kind == "J" else "")
    f = parse_text(encode_text(card))
    assert (f.card_type, f.name, f.sex, f.nation, f.birth_date, f.address, f.id_number, f.authority,
            f.valid_from, f.valid_to, f.id_number_valid) == (
        kind, name, sex, card.nation, birth, address, number, authority, valid_from, valid_to, True)
