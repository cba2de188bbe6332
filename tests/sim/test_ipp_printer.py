"""IPP driver against the IPP printer simulator over loopback HTTP, and the
simulator against the real CUPS ``ipptool`` client (R-OPS-SCORE: the score
sheet is printed and the printed bytes are exactly the archived sheet;
R-DEV-DESK: the service-desk document printer reports paper and jam states)."""
from __future__ import annotations

import asyncio
import hashlib
import shutil
from pathlib import Path

import aiohttp
import pytest
from fpdf import FPDF

from examhw.clock import ScaledClock
from examhw.errors import DeviceUnavailable
from examhw.kinds import DriverContext, JobState
from examhw.sim.base import SimContext
from examhw.urls import DeviceURL
from examhw_drivers.ipp_printer import DRIVER
from examhw_drivers.ipp_printer import codec as drv
from examhw_simulators.doc_printer import SIMULATOR

SPEED = 200.0           # 3 site-s per page → 15 ms real
IPPTOOL = shutil.which("ipptool")
IPPTOOL_TESTS = Path("/usr/share/cups/ipptool")


def score_sheet(pages: int = 1, name: str = "Zhang San") -> bytes:
    pdf = FPDF()
    for i in range(pages):
        pdf.add_page()
        pdf.set_font("helvetica", size=14)
        pdf.cell(text=f"Theory exam score sheet - {name} - 95/100 - page {i + 1}")
    return bytes(pdf.output())


class Rig:
    def __init__(self, tmp_path, sim_opts=None):
        self.clock = ScaledClock(SPEED)
        self.sim = SIMULATOR.factory(SimContext(role="doc_printer", options=sim_opts or {},
                                                clock=self.clock, run_dir=tmp_path))
        self.driver = None

    async def __aenter__(self):
        url = await self.sim.start()
        self.driver = DRIVER.factory("doc_printer", DeviceURL.parse(url), {"timeout_s": 1.0},
                                     DriverContext(clock=self.clock))
        await self.driver.open()
        return self

    async def __aexit__(self, *exc):
        await self.driver.close()
        await self.sim.stop()

    @property
    def model(self):
        return self.sim.model

    async def wait_job_state(self, index: int, states: set[str], timeout=3.0):
        async def loop():
            while not (len(self.model.jobs) > index and self.model.jobs[index].state_name in states):
                self.model.advance()
                await asyncio.sleep(0.002)
        await asyncio.wait_for(loop(), timeout)


@pytest.fixture
async def rig(tmp_path):
    async with Rig(tmp_path) as r:
        yield r


async def test_open_reads_identity(rig):
    """R-DEV-DESK: the document printer identifies itself."""
    assert rig.driver.info.model == "examhw SimPrinter A4"
    assert rig.driver.info.serial.startswith("urn:uuid:")
    assert rig.driver.info.firmware
    assert rig.sim.url.startswith("ipp://127.0.0.1:") and rig.sim.url.endswith("/ipp/print")
    assert (await rig.driver.health()).ok


async def test_print_score_sheet_byte_identical(rig):
    """R-OPS-SCORE: the printed document is byte-identical to the sheet sent
    (the archive can prove which sheet the candidate signed)."""
    pdf = score_sheet(pages=2)
    sub = rig.driver.events.subscribe("job_done")
    result = await rig.driver.print_pdf(pdf, title="Score sheet 0001", timeout=5)
    assert result.state is JobState.DONE and result.job_id == 1
    assert "job-completed-successfully" in result.reasons
    job = rig.model.jobs[0]
    assert hashlib.sha256(job.document).hexdigest() == hashlib.sha256(pdf).hexdigest()
    assert job.title == "Score sheet 0001" and job.state_name == "completed" and job.pages == 2
    assert rig.model.sheets == 498
    assert sub.pending()[0].data["job_id"] == 1


async def test_status_idle_processing_stopped(rig):
    """R-DEV-DESK: printer-state and reasons are reported."""
    st = await rig.driver.status()
    assert st.state == "idle" and st.ready and not st.reasons
    rig.model.jam()
    st = await rig.driver.status()
    assert st.state == "stopped" and not st.ready and st.reasons == {"media-jam"}
    rig.model.clear()
    assert (await rig.driver.status()).state == "idle"


async def test_paper_out_reported_and_job_failed_after_timeout(rig):
    """R-DEV-DESK: paper out → status stopped/media-empty, paper_out event;
    a job that cannot print is FAILED with reasons at the timeout and
    canceled so it does not print later as a duplicate."""
    rig.model.paper_out()
    events = rig.driver.events.subscribe("paper_out", "job_failed")
    st = await rig.driver.status()
    assert st.state == "stopped" and "media-empty" in st.reasons
    result = await rig.driver.print_pdf(score_sheet(), title="Score sheet 0002", timeout=0.3)
    assert result.state is JobState.FAILED
    assert {"timeout", "media-empty", "printer-stopped"} <= set(result.reasons)
    assert rig.model.jobs[0].state_name == "canceled"
    types = [e.type for e in events.pending()]
    assert types.count("paper_out") == 1 and "job_failed" in types
    rig.model.paper_load()
    assert rig.model.jobs[0].state_name == "canceled"          # never printed later
    assert (await rig.driver.print_pdf(score_sheet(), title="again", timeout=5)).state is JobState.DONE


async def test_paper_out_mid_job_then_reload_completes(rig):
    """R-DEV-DESK: paper runs out during a 3-page sheet; the job is
    processing-stopped, resumes when paper is loaded, and completes."""
    task = asyncio.create_task(rig.driver.print_pdf(score_sheet(pages=3), title="long", timeout=5))
    await rig.wait_job_state(0, {"processing"})
    rig.model.paper_out()
    await rig.wait_job_state(0, {"processing-stopped"})
    assert not task.done()
    rig.model.paper_load(100)
    result = await task
    assert result.state is JobState.DONE
    assert rig.model.jobs[0].pages_done == 3


async def test_tray_runs_empty_between_pages(tmp_path):
    async with Rig(tmp_path, sim_opts={"sheets": "1"}) as r:
        task = asyncio.create_task(r.driver.print_pdf(score_sheet(pages=2), title="t", timeout=5))
        await r.wait_job_state(0, {"processing-stopped"})
        assert "media-empty" in (await r.driver.status()).reasons
        r.model.paper_load()
        assert (await task).state is JobState.DONE


async def test_not_a_pdf_is_aborted(rig):
    result = await rig.driver.print_pdf(b"hello, not a pdf", title="bad", timeout=5)
    assert result.state is JobState.FAILED
    assert "aborted" in result.reasons and "document-format-error" in result.reasons


async def test_server_down_is_unavailable(tmp_path):
    """R-DEV-DESK: a printer that is off is reported unavailable, not hung."""
    r = Rig(tmp_path)
    url = await r.sim.start()
    await r.sim.stop()
    driver = DRIVER.factory("doc_printer", DeviceURL.parse(url), {"timeout_s": 1.0}, DriverContext())
    with pytest.raises(DeviceUnavailable):
        await driver.open()


async def test_server_goes_down_after_open(tmp_path):
    async with Rig(tmp_path) as r:
        await r.sim.stop()
        with pytest.raises(DeviceUnavailable):
            await r.driver.print_pdf(score_sheet(), title="x", timeout=1)
        with pytest.raises(DeviceUnavailable):
            await r.driver.status()


async def post(url: str, body: bytes, content_type: str = "application/ipp") -> tuple[int, bytes]:
    http = url.replace("ipp://", "http://")
    async with aiohttp.ClientSession() as s:
        async with s.post(http, data=body, headers={"Content-Type": content_type}) as resp:
            return resp.status, await resp.read()


async def test_simulator_rejects_bad_requests(rig):
    status, _ = await post(rig.sim.url, b"\x01\x01", "text/plain")
    assert status == 400
    status, body = await post(rig.sim.url, b"\x01\x01\x00\x0b\x00\x00\x00\x05\x01\x21")
    assert status == 200 and drv.decode(body).code == 0x0400 and drv.decode(body).request_id == 5
    g = drv.operation_group(rig.sim.url, document_format=(drv.ValueTag.MIME, "image/tiff"))
    _, body = await post(rig.sim.url, drv.encode(drv.Message(code=2, request_id=9, groups=[g], data=b"II*")))
    msg = drv.decode(body)
    assert drv.status_name(msg.code) == "client-error-document-format-not-supported"
    assert msg.find("document-format", drv.GroupTag.UNSUPPORTED).first == "image/tiff"
    _, body = await post(rig.sim.url, drv.encode(drv.Message(code=0x0033, request_id=2,
                                                             groups=[drv.operation_group(rig.sim.url)])))
    assert drv.status_name(drv.decode(body).code) == "server-error-operation-not-supported"
    bad_version = drv.encode(drv.Message(code=0x0B, request_id=3, groups=[drv.operation_group(rig.sim.url)],
                                         version=(3, 0)))
    _, body = await post(rig.sim.url, bad_version)
    assert drv.status_name(drv.decode(body).code) == "server-error-version-not-supported"
    _, body = await post(rig.sim.url, drv.encode(drv.Message(code=0x09, request_id=4,
                                                             groups=[drv.operation_group(rig.sim.url, job_id=99)])))
    assert drv.status_name(drv.decode(body).code) == "client-error-not-found"


# -- interop with the real CUPS client -------------------------------------------------------

async def run_ipptool(url: str, pdf: Path, test: str, timeout: float = 30.0) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        IPPTOOL, "-t", "-f", str(pdf), url, str(IPPTOOL_TESTS / test),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode, out.decode("utf-8", "replace")


@pytest.mark.skipif(IPPTOOL is None, reason="ipptool missing: apt-get install cups-ipp-utils")
@pytest.mark.parametrize("test", ["print-job.test", "print-job-and-wait.test", "get-printer-attributes.test",
                                  "ipp-1.1.test"])
async def test_ipptool_interop(tmp_path, test):
    """R-OPS-SCORE: the simulator is proven against a real IPP client (CUPS
    ipptool, stock test files); the document it received is byte-identical."""
    pdf_path = tmp_path / "sheet.pdf"
    pdf = score_sheet()
    pdf_path.write_bytes(pdf)
    # A very fast site clock: the job is complete before ipptool's first poll
    # (its REPEAT-NO-MATCH loop waits 5 real seconds between polls).
    sim = SIMULATOR.factory(SimContext(role="doc_printer", clock=ScaledClock(1e6), run_dir=tmp_path))
    url = await sim.start()
    try:
        rc, out = await run_ipptool(url, pdf_path, test)
        assert rc == 0, out[-3000:]
        assert "FAIL" not in out
        printed = [j for j in sim.model.jobs if j.document == pdf]
        if test.startswith("print-job"):
            assert printed, "ipptool's job did not reach the simulator"
    finally:
        await sim.stop()
