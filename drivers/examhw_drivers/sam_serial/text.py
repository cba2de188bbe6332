"""The 256-byte text block of a card read: resident, J, I and Y layouts.

Pure code. See ``docs/protocols/sam-serial.md`` §7. Decoding never logs; consistency
problems are returned as warnings that name fields, never their values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from examhw import idnumber
from examhw.errors import FrameError

TEXT_LEN = 256
FLAG_OFFSET = 248
LONG_TERM = "长期"

#: GB/T 2261.1 sex codes
SEX_CODES: dict[str, str] = {"0": "unknown", "1": "male", "2": "female", "9": "not stated"}

#: GB 3304 nation codes (plus 97, 98)
NATIONS: dict[str, str] = {
    "01": "汉", "02": "蒙古", "03": "回", "04": "藏", "05": "维吾尔", "06": "苗", "07": "彝",
    "08": "壮", "09": "布依", "10": "朝鲜", "11": "满", "12": "侗", "13": "瑶", "14": "白",
    "15": "土家", "16": "哈尼", "17": "哈萨克", "18": "傣", "19": "黎", "20": "傈僳", "21": "佤",
    "22": "畲", "23": "高山", "24": "拉祜", "25": "水", "26": "东乡", "27": "纳西", "28": "景颇",
    "29": "柯尔克孜", "30": "土", "31": "达斡尔", "32": "仫佬", "33": "羌", "34": "布朗",
    "35": "撒拉", "36": "毛南", "37": "仡佬", "38": "锡伯", "39": "阿昌", "40": "普米",
    "41": "塔吉克", "42": "怒", "43": "乌孜别克", "44": "俄罗斯", "45": "鄂温克", "46": "德昂",
    "47": "保安", "48": "裕固", "49": "京", "50": "塔塔尔", "51": "独龙", "52": "鄂伦春",
    "53": "赫哲", "54": "门巴", "55": "珞巴", "56": "基诺", "97": "其他", "98": "外国血统中国籍人士",
}

# GB 11643 check character: one implementation for the whole library.
check_character = idnumber.check_char
id_number_valid = idnumber.is_valid


@dataclass(frozen=True)
class TextFields:
    """Decoded text block. Dates are :class:`date`; ``valid_to`` is ``None`` for 长期.
    ``extra`` holds type-specific items the uniform card has no field for
    (``pass_number``, ``issue_count``, ``card_version``, ``renewal_count``,
    ``previous_number``); ``warnings`` names inconsistent fields (no values)."""

    card_type: str              # "resident", "J", "I" or "Y"
    name: str
    sex: str
    nation: str
    birth_date: date
    address: str
    id_number: str
    authority: str
    valid_from: date
    valid_to: date | None
    english_name: str = ""
    nationality: str = ""
    id_number_valid: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


class _Block:
    def __init__(self, block: bytes) -> None:
        self.block = block

    def raw(self, offset: int, size: int) -> str:
        try:
            return self.block[offset:offset + size].decode("utf-16-le")
        except UnicodeDecodeError:
            raise FrameError(f"text field at offset {offset} is not valid UCS-2") from None

    def text(self, offset: int, size: int) -> str:
        return self.raw(offset, size).rstrip(" \x00")

    def day(self, offset: int, what: str, *, long_term_ok: bool = False) -> date | None:
        value = self.text(offset, 16).strip()
        if long_term_ok and value == LONG_TERM:
            return None
        if len(value) != 8 or not value.isascii() or not value.isdigit():
            raise FrameError(f"{what} field is not YYYYMMDD")
        try:
            return date(int(value[:4]), int(value[4:6]), int(value[6:]))
        except ValueError:
            raise FrameError(f"{what} field is not a calendar date") from None


def card_type_flag(block: bytes) -> str:
    """``"J"``, ``"I"``, ``"Y"`` or ``"resident"`` from the flag at offset 248."""
    flag = block[FLAG_OFFSET:FLAG_OFFSET + 2]
    return {b"J\x00": "J", b"I\x00": "I", b"Y\x00": "Y"}.get(bytes(flag), "resident")


def parse_text(block: bytes) -> TextFields:
    """Decode a 256-byte text block by its card-type flag.

    Raises :class:`FrameError` for a block of the wrong size, invalid UCS-2 or a date
    field that is not ``YYYYMMDD``; consistency problems are only warnings.
    """
    if len(block) != TEXT_LEN:
        raise FrameError(f"text block is {len(block)} bytes, expected {TEXT_LEN}")
    b = _Block(bytes(block))
    kind = card_type_flag(block)
    if kind == "I":
        fields = _parse_i(b)
    elif kind == "Y":
        fields = _parse_y(b)
    elif kind == "J":
        fields = _parse_resident_like(b, "J")
    else:
        fields = _parse_resident_like(b, "resident")
    return fields


def _common_warnings(kind: str, sex: str, nation: str, birth: date, number: str, valid: bool) -> list[str]:
    warnings: list[str] = []
    if sex not in SEX_CODES:
        warnings.append("sex code not in GB/T 2261.1")
    if kind == "resident" and nation not in NATIONS:
        warnings.append("nation code not in GB 3304")
    if kind == "I":
        return warnings
    if not valid:
        warnings.append("id_number check character does not verify")
    if len(number) == 18 and number[6:14] != birth.strftime("%Y%m%d"):
        warnings.append("birth_date does not match id_number")
    if len(number) == 18 and number[16].isascii() and number[16].isdigit() and sex in ("1", "2"):
        if (int(number[16]) % 2 == 1) != (sex == "1"):
            warnings.append("sex does not match id_number sequence parity")
    if number.startswith("9") and kind != "Y":
        warnings.append("id_number starts with 9 but the card-type flag is not Y")
    return warnings


def _parse_resident_like(b: _Block, kind: str) -> TextFields:
    sex = b.text(30, 2)
    nation = "" if kind == "J" else b.text(32, 4)
    birth = _required(b.day(36, "birth date"))
    number = b.text(122, 36)
    valid = id_number_valid(number)
    extra: dict[str, str] = {}
    if kind == "J":
        extra = {"pass_number": b.text(220, 18), "issue_count": b.text(238, 4)}
    return TextFields(
        card_type=kind, name=b.text(0, 30), sex=sex, nation=nation, birth_date=birth,
        address=b.text(52, 70), id_number=number, authority=b.text(158, 30),
        valid_from=_required(b.day(188, "valid-from")), valid_to=b.day(204, "valid-to", long_term_ok=True),
        id_number_valid=valid, extra=extra,
        warnings=tuple(_common_warnings(kind, sex, nation, birth, number, valid)))


def _parse_i(b: _Block) -> TextFields:
    sex = b.text(120, 2)
    birth = _required(b.day(220, "birth date"))
    number = b.text(122, 30)
    english = b.text(0, 120)
    chinese = b.text(158, 30)
    return TextFields(
        card_type="I", name=chinese or english, sex=sex, nation="", birth_date=birth, address="",
        id_number=number, authority=b.text(240, 8),
        valid_from=_required(b.day(188, "valid-from")), valid_to=b.day(204, "valid-to", long_term_ok=True),
        english_name=english, nationality=b.text(152, 6), id_number_valid=False,
        extra={"card_version": b.text(236, 4)},
        warnings=tuple(_common_warnings("I", sex, "", birth, number, False)))


def _parse_y(b: _Block) -> TextFields:
    sex = b.text(30, 2)
    birth = _required(b.day(36, "birth date"))
    number = b.text(122, 36)
    valid = id_number_valid(number)
    english = (b.raw(52, 70) + b.raw(220, 22)).rstrip(" \x00")
    chinese = b.text(0, 30)
    return TextFields(
        card_type="Y", name=chinese or english, sex=sex, nation="", birth_date=birth, address="",
        id_number=number, authority="",
        valid_from=_required(b.day(188, "valid-from")), valid_to=b.day(204, "valid-to", long_term_ok=True),
        english_name=english, nationality=b.text(242, 6), id_number_valid=valid,
        extra={"renewal_count": b.text(32, 4), "previous_number": b.text(250, 6)},
        warnings=tuple(_common_warnings("Y", sex, "", birth, number, valid)))


def _required(day: date | None) -> date:
    if day is None:        # only valid-to may be long-term
        raise FrameError("only the valid-to field may read 长期")
    return day
