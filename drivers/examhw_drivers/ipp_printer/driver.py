"""IPP/1.1 document printer driver (docs/protocols/ipp.md).

``ipp://host:port/path`` is posted to as ``http://host:port/path``
(``ipps`` → ``https``; default port 631).
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any, Mapping

import aiohttp

from examhw.errors import DeviceTimeout, DeviceUnavailable, FrameError, ProtocolError
from examhw.kinds import DeviceInfo, DocumentJobResult, DocumentPrinter, DocumentPrinterStatus
from examhw.kinds import DriverContext, JobState
from examhw.urls import DeviceURL

from .codec import JOB_STATES, PRINTER_STATES, GroupTag, Message, Op, ValueTag, decode, encode
from .codec import operation_group, status_name

log = logging.getLogger("examhw.drivers.ipp")

DEFAULT_PORT = 631
#: Site seconds a score sheet may take by default (3 s/page on the simulator).
DEFAULT_JOB_SITE_S = 120.0

_JOB_ATTRS = ["job-id", "job-state", "job-state-reasons", "job-name", "job-media-sheets-completed"]
_PRINTER_ATTRS = ["printer-state", "printer-state-reasons", "printer-make-and-model", "printer-name",
                  "printer-uuid", "printer-firmware-string-version", "printer-is-accepting-jobs"]

_TERMINAL = {9: JobState.DONE, 7: JobState.FAILED, 8: JobState.FAILED}


def http_url(url: DeviceURL) -> str:
    """``ipp://h:p/path`` → ``http://h:p/path``. Raises ValueError for another scheme."""
    if url.scheme not in ("ipp", "ipps"):
        raise ValueError(f"not an ipp URL: {url.redacted()}")
    scheme = "https" if url.scheme == "ipps" else "http"
    return f"{scheme}://{url.host or '127.0.0.1'}:{url.port or DEFAULT_PORT}{url.path or '/ipp/print'}"


def strip_reason(reason: str) -> str:
    """``media-empty-error`` → ``media-empty`` (suffixes -report/-warning/-error)."""
    for suffix in ("-report", "-warning", "-error"):
        if reason.endswith(suffix):
            return reason[: -len(suffix)]
    return reason


class IppDocumentPrinter(DocumentPrinter):
    """Score-sheet printer spoken to with IPP/1.1 over HTTP (aiohttp)."""

    capabilities = frozenset({"job_status", "cancel"})

    def __init__(self, role: str, url: DeviceURL, options: Mapping[str, Any] | None = None,
                 ctx: DriverContext | None = None) -> None:
        super().__init__(role, url, options, ctx)
        self.printer_uri = url.render(with_password=False).split("?")[0]
        self.endpoint = http_url(url)
        self._http: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)
        self._paper_out = False

    # -- lifecycle ---------------------------------------------------------------
    async def _open(self) -> None:
        self._http = aiohttp.ClientSession()
        try:
            resp = await self._printer_attributes()
        except BaseException:
            await self._close()
            raise
        make = str(resp.value("printer-make-and-model", "", GroupTag.PRINTER))
        self.info = DeviceInfo(vendor=make.split(" ")[0] if make else "",
                               model=make,
                               serial=str(resp.value("printer-uuid", "", GroupTag.PRINTER)),
                               firmware=str(resp.value("printer-firmware-string-version", "",
                                                       GroupTag.PRINTER)))

    async def _close(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            await http.close()

    async def _probe(self) -> str:
        st = await self._status()
        return f"{st.state} {','.join(sorted(st.reasons)) or 'none'}"

    # -- IPP transport -------------------------------------------------------------
    async def _ipp(self, op: Op, *groups: Any, data: bytes = b"") -> Message:
        """POST one IPP request and return the decoded response.

        Raises DeviceUnavailable (connection refused/reset), ProtocolError
        (HTTP status ≠ 200, wrong request-id) or FrameError (bad body).
        """
        if self._http is None:
            raise DeviceUnavailable("not connected", role=self.role)
        req_id = next(self._ids)
        body = encode(Message(code=op, request_id=req_id, groups=list(groups), data=data))
        try:
            async with self._http.post(self.endpoint, data=body,
                                       headers={"Content-Type": "application/ipp"}) as resp:
                payload = await resp.read()
                if resp.status != 200:
                    raise ProtocolError(f"HTTP {resp.status} from {self.endpoint}", role=self.role)
        except aiohttp.ClientConnectionError as exc:
            raise DeviceUnavailable(f"{self.endpoint}: {exc}", role=self.role) from exc
        except aiohttp.ClientError as exc:
            raise ProtocolError(f"{self.endpoint}: {exc}", role=self.role) from exc
        try:
            msg = decode(payload)
        except FrameError as exc:
            raise FrameError(f"bad IPP response: {exc}", role=self.role) from None
        if msg.request_id != req_id:
            raise ProtocolError(f"response request-id {msg.request_id} != {req_id}", role=self.role)
        return msg

    def _op(self, job_id: int | None = None, **extra: tuple[int, Any]) -> Any:
        return operation_group(self.printer_uri, job_id=job_id, **extra)

    async def _printer_attributes(self) -> Message:
        resp = await self._ipp(Op.GET_PRINTER_ATTRIBUTES,
                               self._op(requested_attributes=(ValueTag.KEYWORD, _PRINTER_ATTRS)))
        if resp.code >= 0x0100:
            raise ProtocolError(f"Get-Printer-Attributes: {status_name(resp.code)}", role=self.role)
        return resp

    async def _status(self) -> DocumentPrinterStatus:
        resp = await self._printer_attributes()
        state = PRINTER_STATES.get(resp.value("printer-state", 0, GroupTag.PRINTER), "stopped")
        a = resp.find("printer-state-reasons", GroupTag.PRINTER)
        reasons = frozenset(strip_reason(str(r)) for r in (a.all() if a else []) if r and r != "none")
        if "media-empty" in reasons and not self._paper_out:
            self.events.emit("paper_out")
        self._paper_out = "media-empty" in reasons
        return DocumentPrinterStatus(state=state, reasons=reasons)

    # -- public API ------------------------------------------------------------------
    async def status(self) -> DocumentPrinterStatus:
        """printer-state and printer-state-reasons (suffix stripped, ``none``
        dropped). Raises DeviceUnavailable / DeviceTimeout / ProtocolError."""
        return await self._call(self._status())

    async def print_pdf(self, pdf: bytes, *, title: str, timeout: float | None = None) -> DocumentJobResult:
        """Print-Job, then poll Get-Job-Attributes until the job ends.

        ``timeout`` (real s; default per-call timeout + 120 site-s) bounds
        the whole job. A job held up by a stopped printer (paper out, jam)
        keeps waiting; at the timeout it is canceled (so it does not print
        later as a duplicate) and returned as ``FAILED`` with the job and
        printer reasons. Raises DeviceUnavailable if the printer cannot be
        reached to submit the job.
        """
        budget = timeout if timeout is not None else self.timeout_s + self.ctx.clock.to_real(DEFAULT_JOB_SITE_S)
        deadline = time.monotonic() + budget
        poll = min(0.25, max(0.005, self.ctx.clock.to_real(1.0)))
        resp = await self._call(self._ipp(
            Op.PRINT_JOB,
            self._op(job_name=(ValueTag.NAME, title), document_format=(ValueTag.MIME, "application/pdf")),
            data=bytes(pdf)))
        if resp.code >= 0x0100:
            return self._failed(0, (status_name(resp.code),))
        job_id = resp.value("job-id", None, GroupTag.JOB)
        if not isinstance(job_id, int):
            raise ProtocolError("Print-Job response without job-id", role=self.role)
        self.events.emit("job_submitted", job_id=job_id, title=title)
        last_reasons: tuple[str, ...] = ()
        reachable = True
        while True:
            try:
                job = await self._call(self._ipp(
                    Op.GET_JOB_ATTRIBUTES,
                    self._op(job_id=job_id,
                             requested_attributes=(ValueTag.KEYWORD, _JOB_ATTRS))))
                reachable = True
            except (DeviceUnavailable, DeviceTimeout, ProtocolError) as exc:
                log.debug("%s: job %s poll failed: %s", self.role, job_id, exc)
                reachable = False
                job = None
            if job is not None:
                if job.code >= 0x0100:
                    return self._failed(job_id, (status_name(job.code),))
                state = job.value("job-state", 0, GroupTag.JOB)
                a = job.find("job-state-reasons", GroupTag.JOB)
                job_reasons = tuple(str(r) for r in (a.all() if a else []) if r and r != "none")
                last_reasons = job_reasons
                if state in _TERMINAL:
                    if _TERMINAL[state] is JobState.DONE:
                        self.events.emit("job_done", job_id=job_id, title=title)
                        return DocumentJobResult(job_id, JobState.DONE, job_reasons)
                    return self._failed(job_id, (JOB_STATES.get(state, str(state)), *job_reasons))
                if state in (3, 4, 6) or "printer-stopped" in job_reasons:
                    try:
                        pst = await self._call(self._status())
                        printer_reasons = tuple(sorted(pst.reasons))
                        last_reasons = tuple(dict.fromkeys((*job_reasons, *printer_reasons)))
                        if "media-empty" in pst.reasons:
                            log.debug("%s: printer out of paper; job %s waits", self.role, job_id)
                    except (DeviceUnavailable, DeviceTimeout, ProtocolError):
                        pass
            if time.monotonic() >= deadline:
                if not reachable:
                    log.error("%s: job %s outcome unknown (printer unreachable)", self.role, job_id)
                    self.events.emit("job_unknown", job_id=job_id, reason="printer-unreachable")
                    return DocumentJobResult(job_id, JobState.UNKNOWN, ("printer-unreachable",))
                await self._cancel(job_id)
                return self._failed(job_id, ("timeout", *last_reasons))
            await asyncio.sleep(poll)

    async def _cancel(self, job_id: int) -> None:
        try:
            resp = await self._call(self._ipp(Op.CANCEL_JOB, self._op(job_id=job_id)))
            if resp.code >= 0x0100:
                log.warning("%s: Cancel-Job %s: %s", self.role, job_id, status_name(resp.code))
        except (DeviceUnavailable, DeviceTimeout, ProtocolError) as exc:
            log.warning("%s: Cancel-Job %s failed: %s", self.role, job_id, exc)

    def _failed(self, job_id: int, reasons: tuple[str, ...]) -> DocumentJobResult:
        reasons = tuple(dict.fromkeys(r for r in reasons if r))
        log.warning("%s: job %s failed: %s", self.role, job_id, ", ".join(reasons))
        self.events.emit("job_failed", job_id=job_id, reasons=list(reasons))
        return DocumentJobResult(job_id, JobState.FAILED, reasons)


def make_driver(role: str, url: DeviceURL, options: Mapping[str, Any], ctx: DriverContext) -> IppDocumentPrinter:
    return IppDocumentPrinter(role, url, options, ctx)
