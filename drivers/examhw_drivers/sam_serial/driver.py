"""Driver for ID card readers with a GA 467 SAM on a serial line (``examhw.sam-serial``).

Protocol: ``docs/protocols/sam-serial.md``. Personal data (names, ID numbers, addresses)
is never logged; warnings name fields only.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Mapping, TypeVar

from examhw.errors import (ChecksumError, DeviceFault, DeviceTimeout, DeviceUnavailable, FrameError,
                           NoCard, ProtocolError)
from examhw.kinds import CardType, DeviceInfo, DriverContext, IdCardReader, IdentityCard
from examhw.transports.serial import open_serial
from examhw.transports.stream import ByteStream
from examhw.urls import DeviceURL

from .codec import (FIND, READ_BASE, READ_FINGERPRINT, READ_NEW_ADDRESS, RESET, SAM_NUMBER,
                    SAM_STATUS, SELECT, SW_FOUND, SW_NO_CARD, SW_NO_CONTENT, SW_OK, SamDecoder,
                    SamFrame, SamNumber, encode_request, parse_sam_number, split_read_data,
                    status_text)
from .text import parse_text

T = TypeVar("T")
log = logging.getLogger("examhw.drivers.sam_serial")

#: reply timeouts in real seconds at 115200 baud (docs §6); wire time is added for slower lines
SHORT_TIMEOUT_S = 0.5
READ_TIMEOUT_S = 2.0
FINGERPRINT_TIMEOUT_S = 3.0
#: once a reply has started, this much silence means the rest of it is lost
GAP_TIMEOUT_S = 0.3
DEFAULT_BAUD = 115200
DEFAULT_POLL_S = 0.3

#: SW3 classes (BR-10)
RESEND_STATUSES = frozenset({0x10, 0x11, 0x21})       # host frame rejected: resend once
RETRY_STATUSES = frozenset({0x41, 0x47, 0x81})        # card I/O: one find→select→read retry
AUTH_STATUSES = frozenset({0x31, 0x32, 0x33, 0x40})   # authentication: never accept data
FATAL_STATUSES = frozenset({0x60, 0x66})              # reader unusable

_NAMES = {RESET: "reset", SAM_STATUS: "SAM status", SAM_NUMBER: "SAM number", FIND: "find",
          SELECT: "select", READ_BASE: "read", READ_FINGERPRINT: "read with fingerprint",
          READ_NEW_ADDRESS: "read appended address"}


class _CardIOFailure(Exception):
    """Internal: a retryable card I/O status (41/47/81, or 80 after find)."""

    def __init__(self, code: int, stage: str) -> None:
        super().__init__(f"{stage}: {status_text(code)}")
        self.code = code
        self.stage = stage


#: reply shapes (docs §5): success DATA length per command; ``None`` = any length
_SUCCESS_DATA: dict[tuple[int, int], int | None] = {
    RESET: 0, SAM_STATUS: 0, SAM_NUMBER: 16, SELECT: 8,
    READ_BASE: None, READ_FINGERPRINT: None, READ_NEW_ADDRESS: None,
}
#: DATA lengths of the fixed-size success replies (status/reset, select, SAM number)
_FIXED_DATA = frozenset({0, 8, 16})


def _fits(command: tuple[int, int], frame: SamFrame) -> bool:
    """Whether ``frame`` can be the reply to ``command`` (docs §5).

    Only replies recognisably meant for another command are refused: a find
    answer (9F/80) to anything but find, a 90 to find, a 90 whose DATA length is
    that of another command's success reply. Other statuses fit any command, so
    errors are never hidden.
    """
    sw3, size = frame.sw3, len(frame.data)
    if command == FIND:
        return sw3 not in (SW_OK, SW_NO_CONTENT)
    if sw3 == SW_FOUND or (sw3 == SW_NO_CARD and size):
        return False
    if command in (RESET, SAM_STATUS) and sw3 in (SW_NO_CARD, SW_NO_CONTENT):
        return False
    if sw3 == SW_NO_CONTENT:
        return command == READ_NEW_ADDRESS
    if sw3 != SW_OK:
        return True
    expected = _SUCCESS_DATA.get(command)
    if expected is not None:
        return size == expected
    return size not in _FIXED_DATA


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


class SamSerialReader(IdCardReader):
    """ID card reader speaking the SAM serial protocol.

    Options: ``poll_s`` (float, real seconds between find polls, default 0.3),
    ``fingerprint`` (bool, read with ``30 10``), ``baud`` (int, default 115200; a
    ``?baud=`` in the URL wins). Events: ``card_presented`` (find succeeded),
    ``card_removed`` (find fails again after a successful read; the SAM cannot tell a
    card taken away from one still lying there after its read), ``read_failed``
    (``code``, ``stage``, ``retry``).
    """

    capabilities = frozenset({"fingerprint", "appended_address", "events"})

    def __init__(self, role: str, url: DeviceURL, options: Mapping[str, Any] | None = None,
                 ctx: DriverContext | None = None) -> None:
        super().__init__(role, url, options, ctx)
        self.poll_s = max(0.01, float(self.options.get("poll_s", DEFAULT_POLL_S)))
        self.fingerprint = _as_bool(self.options.get("fingerprint", False))
        self.baud = int(self.url.query.get("baud", self.options.get("baud", DEFAULT_BAUD)))
        self.sam_number: SamNumber | None = None
        self._stream: ByteStream | None = None
        self._decoder = SamDecoder()
        self._card_spent = False     # a card was read and find has not failed since
        self._dirty = False          # a request timed out: its reply may still arrive

    # -- lifecycle -----------------------------------------------------------------
    async def _open(self) -> None:
        self._stream = await open_serial(self.url, baudrate=self.baud)
        try:
            await self._status_check()
            number = await self._read_sam_number()
        except BaseException:
            await self._close()
            raise
        self.sam_number = number
        self.info = DeviceInfo(vendor="", model="GA 467 SAM (serial)", serial=number.text)
        log.info("%s: SAM ready, number %s, %d baud", self.role, number.text, self.baud)

    async def _close(self) -> None:
        stream, self._stream = self._stream, None
        self._decoder.reset()
        self._dirty = False
        if stream is not None:
            await stream.close()

    async def _probe(self) -> str:
        async with self._lock:
            await self._status_check()
        return "SAM self-test ok"

    # -- public API ----------------------------------------------------------------
    async def read_card(self, *, timeout: float | None = None) -> IdentityCard:
        """Poll for a card for up to ``timeout`` real seconds (default: the device's
        ``timeout_s``), then find → select → read it.

        Raises :class:`NoCard` when no card is found in time, :class:`DeviceFault`
        (``code`` = SW3) for authentication failures (0x31/0x32/0x33/0x40, never retried),
        read/select failures that persist after one automatic retry (0x41/0x81/0x47) and
        an unusable reader (0x60/0x66), :class:`ProtocolError` when the SAM rejects the
        request twice (0x10/0x11/0x21), :class:`ChecksumError`/:class:`FrameError` for
        replies bad twice, :class:`DeviceTimeout` when the reader is silent and
        :class:`DeviceUnavailable` when the port is gone.
        """
        wait_s = self.timeout_s if timeout is None else max(0.0, float(timeout))
        budget = wait_s + 2 * (4 * self._short_timeout() + 2 * self._read_timeout()) + 1.0
        # the lock is taken per poll (and held from a found card to its read), so other
        # calls such as health() slot in between two polls
        return await self._call(self._read_card(wait_s), timeout=budget)

    async def reset(self) -> None:
        """Reset the SAM (``10 FF``). Raises :class:`DeviceFault` unless it answers 0x90."""
        async def run() -> None:
            frame = await self._exchange(RESET, timeout=self._short_timeout())
            self._require_ok(frame, "reset")
            self._card_spent = False
        await self._call(self._locked(run), timeout=self._budget_short())

    async def sam_status(self) -> int:
        """SAM self-test (``11 FF``); returns SW3 (0x90). Raises :class:`DeviceFault`
        (0x60 self-test failed, 0x66 not authorised, or any other status)."""
        return await self._call(self._locked(self._status_check), timeout=self._budget_short())

    async def sam_id(self) -> SamNumber:
        """The SAM number (``12 FF``): ``raw`` 16 bytes and ``text`` formatted
        ``AA.BB-CCCCCCCC-DDDDDDDDD-EEEEEEEEE`` (docs §5.3)."""
        return await self._call(self._locked(self._read_sam_number), timeout=self._budget_short())

    async def read_new_address(self) -> str | None:
        """The newest appended address (``30 03``), or ``None`` when the card has none.

        Works without re-authentication right after :meth:`read_card` while the card
        lies still; otherwise it finds and selects the card first and raises
        :class:`NoCard` when none is on the reader.
        """
        return await self._call(self._locked(self._read_new_address),
                                timeout=self._budget_short() * 3 + 2 * self._read_timeout())

    # -- read sequence ---------------------------------------------------------------
    async def _read_card(self, wait_s: float) -> IdentityCard:
        deadline = time.monotonic() + wait_s
        while True:
            async with self._lock:
                if await self._find_once():
                    self.events.emit("card_presented")
                    return await self._read_found()
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoCard("no card presented before the deadline", role=self.role)
            await asyncio.sleep(min(self.poll_s, left))

    async def _read_found(self) -> IdentityCard:
        """Select and read the card just found (one find/select/read retry). Lock held."""
        try:
            return await self._select_and_read()
        except _CardIOFailure as first:
            log.info("%s: %s failed (0x%02X), retrying find/select/read", self.role, first.stage, first.code)
            self.events.emit("read_failed", code=first.code, stage=first.stage, retry=True)
            try:
                frame = await self._exchange(FIND, timeout=self._short_timeout())
                if frame.sw3 == SW_NO_CARD:
                    raise _CardIOFailure(first.code, "find")
                if frame.sw3 != SW_FOUND:
                    self._raise_status(frame.sw3, "find")
                return await self._select_and_read()
            except _CardIOFailure as second:
                code = first.code if second.stage == "find" else second.code
                self.events.emit("read_failed", code=code, stage=second.stage, retry=False)
                log.warning("%s: card read failed twice (0x%02X)", self.role, code)
                raise DeviceFault(f"card {first.stage} failed twice ({status_text(code)}); "
                                  "hold the card still on the reader and try again",
                                  code=code, role=self.role) from None

    async def _find_once(self) -> bool:
        """One find poll (lock held): ``True`` when a card was found, ``False`` when none
        is on the reader. A first retry-class status (41/47/81) is polled again at once."""
        strikes = 0      # consecutive retry-class statuses (41/47/81) to find
        while True:
            frame = await self._exchange(FIND, timeout=self._short_timeout())
            if frame.sw3 == SW_FOUND:
                self._card_spent = False
                return True
            if frame.sw3 in RETRY_STATUSES and strikes == 0:
                strikes = 1
                self.events.emit("read_failed", code=frame.sw3, stage="find", retry=True)
                continue
            if frame.sw3 != SW_NO_CARD:
                self._raise_final(frame.sw3, "find")
            if self._card_spent:
                self._card_spent = False
                self.events.emit("card_removed")
            return False

    async def _select_and_read(self) -> IdentityCard:
        frame = await self._exchange(SELECT, timeout=self._short_timeout())
        if frame.sw3 != SW_OK:
            self._raise_status(frame.sw3, "select")
        command = READ_FINGERPRINT if self.fingerprint else READ_BASE
        frame = await self._exchange(command, timeout=self._read_timeout())
        if frame.sw3 != SW_OK:
            self._raise_status(frame.sw3, "read")
        try:
            blocks = split_read_data(frame.data, with_fingerprint=self.fingerprint)
            fields = parse_text(blocks.text)
        except FrameError as exc:
            self.events.emit("read_failed", code=None, stage="decode", retry=False)
            raise FrameError(str(exc), role=self.role) from None
        if fields.warnings:
            log.warning("%s: card data inconsistent: %s", self.role, "; ".join(fields.warnings))
        self._card_spent = True
        log.info("%s: card read (type %s, photo %d bytes, fingerprint %d bytes)", self.role,
                 fields.card_type, len(blocks.photo), len(blocks.fingerprint))
        return IdentityCard(
            name=fields.name, sex=fields.sex, nation=fields.nation, birth_date=fields.birth_date,
            address=fields.address, id_number=fields.id_number, authority=fields.authority,
            valid_from=fields.valid_from, valid_to=fields.valid_to, card_type=CardType(fields.card_type),
            photo=blocks.photo, id_number_valid=fields.id_number_valid, fingerprint=blocks.fingerprint,
            english_name=fields.english_name, nationality=fields.nationality,
            extras=dict(fields.extra), warnings=tuple(fields.warnings))

    async def _read_new_address(self) -> str | None:
        frame = await self._exchange(READ_NEW_ADDRESS, timeout=self._read_timeout())
        if frame.sw3 in RETRY_STATUSES or frame.sw3 == SW_NO_CARD:
            found = await self._exchange(FIND, timeout=self._short_timeout())
            if found.sw3 == SW_NO_CARD:
                raise NoCard("no card on the reader for the appended address", role=self.role)
            if found.sw3 != SW_FOUND:
                self._raise_final(found.sw3, "find")
            selected = await self._exchange(SELECT, timeout=self._short_timeout())
            if selected.sw3 != SW_OK:
                self._raise_final(selected.sw3, "select")
            frame = await self._exchange(READ_NEW_ADDRESS, timeout=self._read_timeout())
        if frame.sw3 == SW_NO_CONTENT:
            return None
        if frame.sw3 != SW_OK:
            self._raise_final(frame.sw3, "read appended address")
        data = frame.data
        if len(data) % 2:
            raise FrameError(f"appended address has odd length {len(data)}", role=self.role)
        try:
            return data.decode("utf-16-le").rstrip(" \x00")
        except UnicodeDecodeError:
            raise FrameError("appended address is not valid UCS-2", role=self.role) from None

    # -- SAM housekeeping ------------------------------------------------------------
    async def _status_check(self) -> int:
        frame = await self._exchange(SAM_STATUS, timeout=self._short_timeout())
        self._require_ok(frame, "SAM status")
        return frame.sw3

    async def _read_sam_number(self) -> SamNumber:
        frame = await self._exchange(SAM_NUMBER, timeout=self._short_timeout())
        self._require_ok(frame, "SAM number")
        try:
            return parse_sam_number(frame.data)
        except FrameError as exc:
            raise FrameError(str(exc), role=self.role) from None

    def _require_ok(self, frame: SamFrame, what: str) -> None:
        if frame.sw3 != SW_OK:
            raise DeviceFault(f"{what} failed: {status_text(frame.sw3)}", code=frame.sw3, role=self.role)

    # -- status handling -------------------------------------------------------------
    def _raise_status(self, sw3: int, stage: str) -> None:
        """Turn a non-success SW3 of a card step into the BR-10 error class."""
        if sw3 in RETRY_STATUSES or (sw3 == SW_NO_CARD and stage != "find"):
            raise _CardIOFailure(sw3, stage)
        self._raise_final(sw3, stage)

    def _raise_final(self, sw3: int, stage: str) -> None:
        self.events.emit("read_failed", code=sw3, stage=stage, retry=False)
        text = status_text(sw3)
        if sw3 in AUTH_STATUSES:
            log.warning("%s: card authentication failed at %s (0x%02X)", self.role, stage, sw3)
            raise DeviceFault(f"card rejected at {stage}: {text}; do not accept it, call staff",
                              code=sw3, role=self.role)
        if sw3 in FATAL_STATUSES:
            log.error("%s: reader unusable (0x%02X: %s)", self.role, sw3, text)
            raise DeviceFault(f"reader unusable: {text}", code=sw3, role=self.role)
        if sw3 in RETRY_STATUSES or sw3 in (0x23, 0x24, SW_NO_CARD):
            raise DeviceFault(f"{stage} failed: {text}", code=sw3, role=self.role)
        raise ProtocolError(f"unexpected status 0x{sw3:02X} ({text}) in reply to {stage}", role=self.role)

    # -- one request, one reply ------------------------------------------------------
    async def _exchange(self, command: tuple[int, int], *, timeout: float, data: bytes = b"") -> SamFrame:
        """Send one request and return its reply frame.

        A reply with a bad checksum, a malformed or incomplete reply, and a reply with
        SW3 0x10/0x11/0x21 are never interpreted: the request is resent once, and a second
        failure raises :class:`ChecksumError`, :class:`FrameError` or :class:`ProtocolError`.
        A silent reader raises :class:`DeviceTimeout` at once.
        """
        what = _NAMES.get(command, f"command {command[0]:02X} {command[1]:02X}")
        request = encode_request(command[0], command[1], data)
        failure: ProtocolError | None = None
        for attempt in (1, 2):
            try:
                frame = await self._transact(request, timeout, what, command)
            except (ChecksumError, FrameError) as exc:
                failure = type(exc)(f"{what}: {exc}", role=self.role)
                log.debug("%s: bad reply to %s (attempt %d): %s", self.role, what, attempt, exc)
                continue
            log.debug("%s: %s -> SW3 0x%02X, %d data bytes", self.role, what, frame.sw3, len(frame.data))
            if frame.sw3 in RESEND_STATUSES:
                failure = ProtocolError(f"SAM rejected {what} twice: {status_text(frame.sw3)} "
                                        f"(0x{frame.sw3:02X})", role=self.role)
                continue
            return frame
        assert failure is not None
        raise failure

    async def _transact(self, request: bytes, timeout: float, what: str,
                        command: tuple[int, int] | None = None) -> SamFrame:
        stream = self._stream
        if stream is None:
            raise DeviceUnavailable("serial port is not open", role=self.role)
        if self._dirty:
            await self._drain(stream)
        stream.discard_input()
        self._decoder.reset()
        await stream.write(request)
        deadline = time.monotonic() + timeout
        received = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            # once a reply has started, a quiet line means its tail was lost (BR-09)
            wait = min(left, self._gap_timeout()) if received else left
            try:
                chunk = await stream.read_some(wait)
            except DeviceTimeout:
                break
            received += len(chunk)
            for frame in self._decoder.feed(chunk):
                if command is None or _fits(command, frame):
                    return frame
                # the late answer to an earlier, timed-out request: never taken for this one
                log.debug("%s: skipped a stale reply (SW3 0x%02X, %d data bytes) while waiting for %s",
                          self.role, frame.sw3, len(frame.data), what)
                received = len(self._decoder.buffered)
        # a reply may still be under way: the next request drains the line first
        self._dirty = True
        if received:
            raise FrameError(f"incomplete reply to {what}: {received} bytes, then the line went quiet "
                             f"(no complete frame)", role=self.role)
        raise DeviceTimeout(f"no reply to {what} within {timeout:.2f} s", role=self.role)

    async def _drain(self, stream: ByteStream) -> None:
        """After a reply timeout: drop input until the line has been quiet for the
        inter-byte gap (:meth:`_gap_timeout`), for at most one short timeout plus that gap
        (real seconds). A late reply to the timed-out request is thereby discarded."""
        quiet = self._gap_timeout()
        deadline = time.monotonic() + quiet + self._short_timeout()
        dropped = len(stream.discard_input())
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                dropped += len(await stream.read_some(min(quiet, left)))
            except DeviceTimeout:
                break
        self._dirty = False
        if dropped:
            log.debug("%s: dropped %d stale bytes after a reply timeout", self.role, dropped)

    # -- helpers ---------------------------------------------------------------------
    async def _locked(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        async with self._lock:
            return await fn(*args)

    def _wire_s(self, nbytes: int) -> float:
        return nbytes * 10 / max(self.baud, 1)

    def _gap_timeout(self) -> float:
        return GAP_TIMEOUT_S + self._wire_s(64)

    def _short_timeout(self) -> float:
        return SHORT_TIMEOUT_S + self._wire_s(40)

    def _read_timeout(self) -> float:
        if self.fingerprint:
            return FINGERPRINT_TIMEOUT_S + self._wire_s(2321)
        return READ_TIMEOUT_S + self._wire_s(1295)

    def _budget_short(self) -> float:
        return 2 * self._short_timeout() + 1.0
