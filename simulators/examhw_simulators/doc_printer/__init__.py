"""Simulated IPP/1.1 document (score-sheet) printer on loopback HTTP."""
from examhw.kinds import DeviceKind
from examhw.plugins import SimulatorSpec

from .model import DocPrinterModel, PrintedJob, count_pages
from .simulator import IppPrinterSimulator

SIMULATOR = SimulatorSpec(
    name="examhw.sim.ipp",
    kind=DeviceKind.DOCUMENT_PRINTER,
    factory=IppPrinterSimulator,
    transport="http",
    options={"page_time_s": float, "sheets": int},
    description="IPP/1.1 printer: Print-Job, Get-Job-Attributes, Get-Printer-Attributes, Cancel-Job; "
                "keeps every printed document",
)

__all__ = ["SIMULATOR", "DocPrinterModel", "IppPrinterSimulator", "PrintedJob", "count_pages"]
