"""IPP/1.1 document printer simulator on loopback HTTP (aiohttp)."""
from __future__ import annotations

import logging
import uuid

from aiohttp import web

from examhw.errors import FrameError
from examhw.kinds import DeviceKind
from examhw.sim.base import SimContext, Simulator
from examhw.sim.endpoints.http import HttpEndpoint

from . import ipp
from .model import DocPrinterModel, PrintedJob

log = logging.getLogger("examhw.sim.ipp")

PATH = "/ipp/print"
_FORMATS = ("application/pdf", "application/octet-stream")
_OPERATIONS = (ipp.PRINT_JOB, ipp.VALIDATE_JOB, ipp.CANCEL_JOB, ipp.GET_JOB_ATTRIBUTES, ipp.GET_JOBS,
               ipp.GET_PRINTER_ATTRIBUTES)


class IppPrinterSimulator(Simulator[DocPrinterModel]):
    """Serves ``POST /ipp/print`` (and ``/ipp/print/<job>``) on 127.0.0.1.

    Options: ``page_time_s`` (3.0 site-s per page), ``sheets`` (500).
    ``requests`` counts the IPP operations received, by operation id.
    """

    kind = DeviceKind.DOCUMENT_PRINTER

    def __init__(self, ctx: SimContext) -> None:
        super().__init__(ctx)
        self._model = DocPrinterModel(ctx.clock, page_time_s=ctx.opt("page_time_s", 3.0, float),
                                      sheets=ctx.opt("sheets", 500, int))
        self.uuid = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'examhw-sim-ipp-' + ctx.role)}"
        self.requests: dict[int, int] = {}
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post(PATH, self._handle)
        app.router.add_post(PATH + "/{job}", self._handle)
        self.endpoint = HttpEndpoint(app, ctx.faults)
        self.printer_uri = ""

    async def start(self) -> str:
        await self.endpoint.start()
        self.printer_uri = f"ipp://127.0.0.1:{self.endpoint.port}{PATH}"
        self.url = self.printer_uri
        return self.url

    async def stop(self) -> None:
        await self.endpoint.stop()

    # -- HTTP ----------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        if request.content_type != "application/ipp":
            return web.Response(status=400, text="Content-Type must be application/ipp")
        body = await request.read()
        try:
            req = ipp.parse(body)
        except FrameError as exc:
            head = ipp.header_of(body)
            if head is None:
                return web.Response(status=400, text=f"bad IPP request: {exc}")
            version, req_id = head
            return self._reply(ipp.ResponseWriter(version, ipp.BAD_REQUEST, req_id, str(exc)).finish())
        self.requests[req.operation] = self.requests.get(req.operation, 0) + 1
        return self._reply(self.dispatch(req))

    @staticmethod
    def _reply(data: bytes) -> web.Response:
        return web.Response(body=data, content_type="application/ipp")

    # -- IPP -----------------------------------------------------------------
    def dispatch(self, req: ipp.IppRequest) -> bytes:
        """Answer one parsed request (returns the response body)."""
        version = req.version
        if version[0] not in (1, 2):
            return ipp.ResponseWriter((1, 1), ipp.VERSION_NOT_SUPPORTED, req.request_id,
                                      f"IPP version {version[0]}.{version[1]} not supported").finish()
        problem = self._check_request(req)
        if problem:
            return ipp.ResponseWriter(version, ipp.BAD_REQUEST, req.request_id, problem).finish()
        if req.operation not in _OPERATIONS:
            return ipp.ResponseWriter(version, ipp.OPERATION_NOT_SUPPORTED, req.request_id,
                                      f"operation 0x{req.operation:04x} not supported").finish()
        if req.operation in (ipp.PRINT_JOB, ipp.VALIDATE_JOB):
            return self._print_job(req)
        if req.operation == ipp.GET_PRINTER_ATTRIBUTES:
            return self._printer_attributes(req)
        if req.operation == ipp.GET_JOBS:
            return self._get_jobs(req)
        job = self._target_job(req)
        if job is None:
            return ipp.ResponseWriter(version, ipp.NOT_FOUND, req.request_id, "no such job").finish()
        if req.operation == ipp.CANCEL_JOB:
            done = self._model.cancel(job.id)
            if done is False:
                return ipp.ResponseWriter(version, ipp.NOT_POSSIBLE, req.request_id,
                                          f"job {job.id} is already {job.state_name}").finish()
            return ipp.ResponseWriter(version, ipp.OK, req.request_id).finish()
        w = ipp.ResponseWriter(version, ipp.OK, req.request_id).group(ipp.JOB_GROUP)
        self._job_attrs(w, job, self._requested(req))
        return w.finish()

    @staticmethod
    def _check_request(req: ipp.IppRequest) -> str:
        """RFC 8011 §4.1 checks; returns the problem or ``""``."""
        if req.request_id == 0:
            return "request-id 0 is not allowed"
        if req.first_operation_names(2) != ["attributes-charset", "attributes-natural-language"]:
            return "attributes-charset and attributes-natural-language must come first"
        if req.operation in (ipp.GET_JOB_ATTRIBUTES, ipp.CANCEL_JOB):
            if req.get("job-uri") is None and (req.get("printer-uri") is None or req.get("job-id") is None):
                return "job-uri or printer-uri + job-id required"
        elif req.get("printer-uri") is None:
            return "printer-uri required"
        return ""

    def _target_job(self, req: ipp.IppRequest) -> PrintedJob | None:
        job_id = req.get("job-id")
        if not isinstance(job_id, int):
            uri = req.get("job-uri")
            tail = uri.rsplit("/", 1)[-1] if isinstance(uri, str) else ""
            job_id = int(tail) if tail.isascii() and tail.isdigit() else None
        return self._model.job(job_id) if isinstance(job_id, int) else None

    @staticmethod
    def _requested(req: ipp.IppRequest) -> set[str] | None:
        names = {str(n) for n in req.get_all("requested-attributes")}
        return None if not names or "all" in names else names

    def _get_jobs(self, req: ipp.IppRequest) -> bytes:
        which_jobs = str(req.get("which-jobs", "not-completed"))
        if which_jobs not in ("not-completed", "completed", "all"):
            w = ipp.ResponseWriter(req.version, ipp.ATTRIBUTES_NOT_SUPPORTED, req.request_id,
                                   f"which-jobs {which_jobs} not supported")
            w.group(ipp.UNSUPPORTED_GROUP).attr("which-jobs", ipp.KEYWORD, which_jobs)
            return w.finish()
        user = req.get("requesting-user-name")
        user = user[1] if isinstance(user, tuple) else user
        limit = req.get("limit")
        wanted = self._requested(req) or {"job-id", "job-uri"}
        if "all" in {str(n) for n in req.get_all("requested-attributes")}:
            wanted = None
        w = ipp.ResponseWriter(req.version, ipp.OK, req.request_id)
        count = 0
        for job in reversed(self._model.jobs):
            if which_jobs == "not-completed" and job.done or which_jobs == "completed" and not job.done:
                continue
            if req.get("my-jobs") is True and job.user != user:
                continue
            if isinstance(limit, int) and count >= limit:
                break
            self._job_attrs(w.group(ipp.JOB_GROUP), job, wanted)
            count += 1
        return w.finish()

    def _print_job(self, req: ipp.IppRequest) -> bytes:
        fmt = str(req.get("document-format", "application/octet-stream"))
        if fmt not in _FORMATS:
            w = ipp.ResponseWriter(req.version, ipp.FORMAT_NOT_SUPPORTED, req.request_id,
                                   f"document-format {fmt} not supported")
            w.group(ipp.UNSUPPORTED_GROUP).attr("document-format", ipp.MIME_MEDIA_TYPE, fmt)
            return w.finish()
        if req.operation == ipp.VALIDATE_JOB:
            return ipp.ResponseWriter(req.version, ipp.OK, req.request_id).finish()
        title = req.get("job-name", "")
        title = title[1] if isinstance(title, tuple) else str(title or "untitled")
        user = req.get("requesting-user-name", "anonymous")
        user = user[1] if isinstance(user, tuple) else str(user)
        job = self._model.submit(req.document, title, user, fmt)
        log.debug("job %d %r: %d bytes, %d pages", job.id, title, len(job.document), job.pages)
        w = ipp.ResponseWriter(req.version, ipp.OK, req.request_id).group(ipp.JOB_GROUP)
        self._job_attrs(w, job, {"job-id", "job-uri", "job-state", "job-state-reasons"})
        return w.finish()

    def _job_attrs(self, w: ipp.ResponseWriter, job: PrintedJob, which: set[str] | None) -> None:
        def want(name: str) -> bool:
            return which is None or name in which

        if want("job-id"):
            w.attr("job-id", ipp.INTEGER, job.id)
        if want("job-uri"):
            w.attr("job-uri", ipp.URI, f"{self.printer_uri}/{job.id}")
        if want("job-printer-uri"):
            w.attr("job-printer-uri", ipp.URI, self.printer_uri)
        if want("job-name"):
            w.attr("job-name", ipp.NAME, job.title)
        if want("job-originating-user-name"):
            w.attr("job-originating-user-name", ipp.NAME, job.user)
        if want("job-state"):
            w.attr("job-state", ipp.ENUM, job.state)
        if want("job-state-reasons"):
            w.attr("job-state-reasons", ipp.KEYWORD, *self._model.job_reasons(job))
        if want("job-media-sheets-completed"):
            w.attr("job-media-sheets-completed", ipp.INTEGER, job.pages_done)
        if want("job-impressions"):
            w.attr("job-impressions", ipp.INTEGER, job.pages)
        if want("job-k-octets"):
            w.attr("job-k-octets", ipp.INTEGER, (len(job.document) + 1023) // 1024)
        m = self._model
        for name, at in (("time-at-creation", job.created_at), ("time-at-processing", job.processing_at),
                         ("time-at-completed", job.finished_at)):
            if want(name):
                if at is None:
                    w.attr(name, ipp.NO_VALUE, None)
                else:
                    w.attr(name, ipp.INTEGER, m.up_time(at))
        if want("job-printer-up-time"):
            w.attr("job-printer-up-time", ipp.INTEGER, m.up_time())

    def _printer_attributes(self, req: ipp.IppRequest) -> bytes:
        m = self._model
        which = self._requested(req)
        w = ipp.ResponseWriter(req.version, ipp.OK, req.request_id).group(ipp.PRINTER_GROUP)
        up = m.up_time()
        attrs: list[tuple[str, int, tuple]] = [
            ("printer-uri-supported", ipp.URI, (self.printer_uri,)),
            ("uri-authentication-supported", ipp.KEYWORD, ("none",)),
            ("uri-security-supported", ipp.KEYWORD, ("none",)),
            ("printer-name", ipp.NAME, (m.name,)),
            ("printer-info", ipp.TEXT, ("Score-sheet printer (examhw simulator)",)),
            ("printer-location", ipp.TEXT, ("Service desk",)),
            ("printer-more-info", ipp.URI, (f"http://127.0.0.1:{self.endpoint.port}/",)),
            ("printer-make-and-model", ipp.TEXT, (m.make_and_model,)),
            ("printer-uuid", ipp.URI, (self.uuid,)),
            ("printer-firmware-string-version", ipp.TEXT, ("examhw-sim 1.0",)),
            ("printer-state", ipp.ENUM, (m.printer_state(),)),
            ("printer-state-reasons", ipp.KEYWORD, tuple(m.printer_reasons())),
            ("printer-state-message", ipp.TEXT, (", ".join(m.printer_reasons()),)),
            ("printer-is-accepting-jobs", ipp.BOOLEAN, (True,)),
            ("queued-job-count", ipp.INTEGER, (sum(1 for j in m.jobs if not j.done),)),
            ("printer-up-time", ipp.INTEGER, (up,)),
            ("ipp-versions-supported", ipp.KEYWORD, ("1.0", "1.1", "2.0")),
            ("operations-supported", ipp.ENUM, _OPERATIONS),
            ("charset-configured", ipp.CHARSET, ("utf-8",)),
            ("charset-supported", ipp.CHARSET, ("utf-8",)),
            ("natural-language-configured", ipp.NATURAL_LANGUAGE, ("en",)),
            ("generated-natural-language-supported", ipp.NATURAL_LANGUAGE, ("en",)),
            ("document-format-default", ipp.MIME_MEDIA_TYPE, ("application/pdf",)),
            ("document-format-supported", ipp.MIME_MEDIA_TYPE, _FORMATS),
            ("compression-supported", ipp.KEYWORD, ("none",)),
            ("pdl-override-supported", ipp.KEYWORD, ("not-attempted",)),
            ("media-default", ipp.KEYWORD, ("iso_a4_210x297mm",)),
            ("media-supported", ipp.KEYWORD, ("iso_a4_210x297mm",)),
            ("printer-resolution-default", ipp.RESOLUTION, ((600, 600, 3),)),
            ("copies-supported", ipp.RANGE_OF_INTEGER, ((1, 1),)),
        ]
        for name, tag, values in attrs:
            if which is None or name in which:
                w.attr(name, tag, *values)
        if which is None or "media-col-default" in which:
            w.collection("media-col-default", {
                "media-size": (ipp.BEG_COLLECTION, {"x-dimension": (ipp.INTEGER, 21000),
                                                    "y-dimension": (ipp.INTEGER, 29700)}),
                "media-source": (ipp.KEYWORD, "main"),
                "media-type": (ipp.KEYWORD, "stationery"),
            })
        return w.finish()


__all__ = ["IppPrinterSimulator"]
