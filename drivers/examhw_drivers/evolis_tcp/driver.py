"""Evolis card printer driver over raw TCP (docs/protocols/evolis-escape.md).

Job outcome rules (BR-27): a printer refusal or latched error ends the job
as ``FAILED``; once ``Ss`` has been sent, a lost link, a silent printer or
garbled replies end it as ``UNKNOWN`` — never an automatic reprint.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Mapping

from examhw.errors import DeviceTimeout, DeviceUnavailable, FrameError, ProtocolError
from examhw.kinds import CardJob, CardPrinter, ConnState, DeviceInfo, DriverContext, JobState
from examhw.kinds import PrinterStatus, PrintResult
from examhw.transports.stream import ByteStream, request
from examhw.transports.tcp import open_tcp
from examhw.urls import DeviceURL

from .codec import NACK_NAMES, Reply, ReplyDecoder, ReplyKind, StatusWords, encode_command
from .codec import encode_mag, encode_panel, parse_status
from .panel import k_panel

log = logging.getLogger("examhw.drivers.evolis")

DEFAULT_PORT = 9100
#: Site seconds a job may take by default (print time is ~20 s per card).
DEFAULT_JOB_SITE_S = 120.0


class EvolisCardPrinter(CardPrinter):
    """Evolis escape-command printer on ``tcp://host:port`` (default 9100).

    Options: ``ack_nack`` (bool, default True) switches the printer into
    ACK/NACK mode at open; ``timeout_s`` per-call timeout (real s).
    Extra method: :meth:`reset` (``Srs``, clears a latched error).
    """

    capabilities = frozenset({"magnetic", "duplex", "status_words", "reset"})

    def __init__(self, role: str, url: DeviceURL, options: Mapping[str, Any] | None = None,
                 ctx: DriverContext | None = None) -> None:
        super().__init__(role, url, options, ctx)
        ack = self.options.get("ack_nack", True)
        self.ack_nack = ack.lower() in ("1", "true", "yes", "on") if isinstance(ack, str) else bool(ack)
        self._stream: ByteStream | None = None
        self._decoder = ReplyDecoder()
        self._io = asyncio.Lock()          # one command/reply exchange at a time
        self._job = asyncio.Lock()         # one card job at a time (sequences must not interleave)
        self._seen: frozenset[str] = frozenset()
        self._dropped = False              # connection dropped after a timeout: reconnect on next use
        self._closing: set[asyncio.Task[None]] = set()
        #: raw status words of the last ``Rst`` (for reports)
        self.last_status: StatusWords | None = None

    # -- lifecycle ---------------------------------------------------------
    async def _open(self) -> None:
        self._dropped = False
        self._stream = await open_tcp(self.url, default_port=DEFAULT_PORT, timeout=self.timeout_s)
        self._decoder.reset()
        reply = await self._exchange(encode_command("Pem", "1" if self.ack_nack else "0"))
        if not reply.success:
            raise ProtocolError(f"printer refused Pem: {reply.text!r}", role=self.role)
        model = await self._read("Rtp")
        serial = await self._read("Rsn")
        firmware = await self._read("Rfv")
        self.info = DeviceInfo(vendor="Evolis", model=model, serial=serial, firmware=firmware)

    async def _close(self) -> None:
        stream, self._stream = self._stream, None
        self._dropped = False
        if stream is not None:
            await stream.close()

    def _drop_stream(self) -> None:
        """Drop the connection after a timed-out exchange, so a late reply can never
        be taken for the next request's; the next exchange reconnects (the ACK/NACK
        mode set by ``Pem`` is kept by the printer)."""
        stream, self._stream = self._stream, None
        self._decoder.reset()
        self._dropped = True
        if stream is not None:
            task = asyncio.get_running_loop().create_task(stream.close())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _probe(self) -> str:
        words = await self._status_words()
        return f"{self.info.model} status {words.raw()}"

    # -- wire helpers ------------------------------------------------------
    async def _exchange(self, payload: bytes, timeout: float | None = None) -> Reply:
        """Send one command and return its reply. Raises DeviceTimeout,
        DeviceUnavailable, or FrameError for a malformed reply. After a timeout
        (or a cancelled exchange) the connection is dropped and the next call
        reconnects first."""
        async with self._io:
            if self._stream is None and self._dropped:
                log.info("%s: reconnecting after a timed-out exchange", self.role)
                self._stream = await open_tcp(self.url, default_port=DEFAULT_PORT, timeout=self.timeout_s)
                self._decoder.reset()
                self._dropped = False
            if self._stream is None:
                raise DeviceUnavailable("not connected", role=self.role)
            try:
                reply = await request(self._stream, self._decoder, payload,
                                      timeout=self.timeout_s if timeout is None else timeout)
            except (DeviceTimeout, asyncio.CancelledError):
                self._drop_stream()
                raise
        if reply.kind is ReplyKind.INVALID:
            assert reply.error is not None
            raise FrameError(str(reply.error), role=self.role)
        return reply

    async def _read(self, name: str, *params: object) -> str:
        """A read command's data (any reply text, ``ERR …`` included, since
        ``Rlr`` answers such data). A NACK raises ProtocolError."""
        reply = await self._exchange(encode_command(name, *params))
        if reply.kind is ReplyKind.NACK:
            raise ProtocolError(f"{name} refused: {reply.text!r}", role=self.role)
        return reply.text

    async def _status_words(self) -> StatusWords:
        text = await self._read("Rst")
        try:
            words = parse_status(text)
        except FrameError as exc:
            raise FrameError(str(exc), role=self.role) from None
        self.last_status = words
        return words

    async def _counter(self) -> int:
        text = await self._read("Rco", "c")
        if not (text.isascii() and text.isdigit()):
            raise FrameError(f"card counter {text!r} is not a number", role=self.role)
        return int(text)

    # -- public API ----------------------------------------------------------
    async def status(self) -> PrinterStatus:
        """Ribbon, feeder, cover and jam state from ``Rst`` and ``Rco;c``.
        Raises DeviceTimeout / DeviceUnavailable / ProtocolError."""
        words = await self._call(self._status_words())
        count = await self._call(self._counter())
        st = PrinterStatus(ready=not words.errors() and not words.busy, warnings=words.warnings(),
                           errors=words.errors(), cards_printed=count)
        self._note_flags(words)
        return st

    async def reset(self) -> None:
        """Send ``Srs`` (soft reset): clears a latched error. An explicit
        operator act — the driver never resets on its own (BR-27)."""
        reply = await self._call(self._exchange(encode_command("Srs")))
        if not reply.success:
            raise ProtocolError(f"Srs refused: {reply.text!r}", role=self.role)

    async def print_card(self, job: CardJob, *, timeout: float | None = None) -> PrintResult:
        """Print one card and wait until it is ejected or fails.

        ``timeout`` (real s) bounds the whole job; default is the per-call
        timeout plus 120 site-seconds. Returns ``DONE``, ``FAILED`` (with
        the printer's error: ``ribbon_out``, ``feeder_empty``, ``jam``,
        ``cover_open``…) or ``UNKNOWN`` (link lost / no answer after the job
        was sent; reconcile before reprinting). Raises ValueError for an
        undecodable image, and DeviceUnavailable / DeviceTimeout /
        ProtocolError when the printer fails before anything was sent.
        """
        front = k_panel(job.front_k)
        back = k_panel(job.back_k) if job.back_k else b""
        async with self._job:
            return await self._print(job, front, back, timeout)

    async def _print(self, job: CardJob, front: bytes, back: bytes, timeout: float | None) -> PrintResult:
        budget = timeout if timeout is not None else self.timeout_s + self.ctx.clock.to_real(DEFAULT_JOB_SITE_S)
        deadline = time.monotonic() + budget
        poll = min(0.25, max(0.005, self.ctx.clock.to_real(1.0)))
        seq = [encode_command("Ss"), encode_command("Sr"), encode_panel("k", front)]
        if back:
            seq += [encode_command("Sv"), encode_panel("k", back)]
        seq += [encode_mag(t, d) for t, d in sorted(job.mag_tracks.items())]   # ValueError: bad track
        seq.append(encode_command("Se"))

        # 1. pre-check: nothing is sent yet, so errors propagate.
        words = await self._call(self._status_words())
        while words.busy:
            if time.monotonic() >= deadline:
                return self._failed(job, "printer_busy")
            await asyncio.sleep(poll)
            words = await self._call(self._status_words())
        self._note_flags(words)
        if words.err:
            return self._failed(job, words.job_error())
        before = await self._call(self._counter())
        for cmd in (encode_command("Pmi", "F"), encode_command("Pr", "k")):
            reply = await self._call(self._exchange(cmd))
            if not reply.success:
                return self._failed(job, self._nack_name(reply))

        # 2. the sequence: from here on, uncertainty means UNKNOWN.
        try:
            for cmd in seq:
                reply = await self._call(self._exchange(cmd))
                if not reply.success:
                    return self._failed(job, self._nack_name(reply))
            self.events.emit("job_started", job_id=job.job_id)
            return await self._wait_job(job, before, deadline, poll)
        except DeviceUnavailable as exc:
            return self._unknown(job, f"link_lost: {exc}")
        except DeviceTimeout as exc:
            return self._unknown(job, f"timeout: {exc}")
        except ProtocolError as exc:
            return self._unknown(job, f"protocol_error: {exc}")

    async def _wait_job(self, job: CardJob, before: int, deadline: float, poll: float) -> PrintResult:
        last_err: Exception | None = None
        while True:
            if time.monotonic() >= deadline:
                why = f"no result before timeout (last error: {last_err})" if last_err else "timeout"
                return self._unknown(job, why)
            await asyncio.sleep(poll)
            try:
                words = await self._call(self._status_words(), timeout=self.timeout_s)
            except (DeviceTimeout, ProtocolError) as exc:   # one lost/garbled poll: try again
                last_err = exc
                continue
            if words.busy:
                continue
            self._note_flags(words)
            if words.err:
                return self._failed(job, words.job_error())
            after = await self._call(self._counter())
            if after == before + 1:
                self.events.emit("job_done", job_id=job.job_id, cards_printed=after)
                return PrintResult(job.job_id, JobState.DONE)
            return self._unknown(job, f"card counter went {before} -> {after}")

    # -- outcome helpers -------------------------------------------------------
    @staticmethod
    def _nack_name(reply: Reply) -> str:
        return NACK_NAMES.get(reply.code, f"printer_error_{reply.code}" if reply.code else "printer_error")

    def _failed(self, job: CardJob, error: str) -> PrintResult:
        log.warning("%s: card job %s failed: %s", self.role, job.job_id, error)
        self.events.emit("job_failed", job_id=job.job_id, error=error)
        if error == "feeder_empty":
            self.events.emit("feeder_empty")
        return PrintResult(job.job_id, JobState.FAILED, error=error)

    def _unknown(self, job: CardJob, reason: str) -> PrintResult:
        log.error("%s: card job %s outcome unknown (%s); reconcile before reprinting",
                  self.role, job.job_id, reason)
        self.events.emit("job_unknown", job_id=job.job_id, reason=reason)
        return PrintResult(job.job_id, JobState.UNKNOWN, error=reason)

    def _note_flags(self, words: StatusWords) -> None:
        """Emit ribbon_low / feeder_empty on their rising edge; mark the
        device DEGRADED while warnings or errors are present."""
        now = words.warnings() | words.errors()
        for name in ("ribbon_low", "feeder_empty"):
            if name in now and name not in self._seen:
                self.events.emit(name)
        self._seen = now
        if self.state in (ConnState.READY, ConnState.DEGRADED):
            self._set_state(ConnState.DEGRADED if now else ConnState.READY, ",".join(sorted(now)) or "ok")


def make_driver(role: str, url: DeviceURL, options: Mapping[str, Any], ctx: DriverContext) -> EvolisCardPrinter:
    return EvolisCardPrinter(role, url, options, ctx)
