"""Document (score-sheet) printer: IPP/1.1 over HTTP."""
from examhw.kinds import DeviceKind
from examhw.plugins import DriverSpec

from .driver import IppDocumentPrinter, make_driver

DRIVER = DriverSpec(
    name="examhw.ipp",
    kind=DeviceKind.DOCUMENT_PRINTER,
    schemes=("ipp",),
    factory=make_driver,
    simulator="examhw.sim.ipp",
    options={},
    description="IPP/1.1 printer (Print-Job, Get-Job-Attributes, Get-Printer-Attributes) on ipp://host:port/path",
)

__all__ = ["DRIVER", "IppDocumentPrinter"]
