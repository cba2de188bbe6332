"""Device kinds: one typed async interface per kind plus the shared base."""
from ._base import ConnState, DeviceBase, DeviceInfo, DeviceKind, DriverContext, Health
from .camera import Camera, MediaProfile, Snapshot
from .card_printer import CardJob, CardPrinter, JobState, PrinterStatus, PrintResult
from .document_printer import DocumentJobResult, DocumentPrinter, DocumentPrinterStatus
from .id_reader import CardType, IdCardReader, IdentityCard
from .metal_detector import DetectorCounters, MetalDetector, TransitResult
from .signature_pad import PenPoint, Signature, SignaturePad
from .turnstile import Direction, GateMode, PassageResult, Turnstile, TurnstileStatus
from .ups import PowerSource, Ups, UpsStatus

#: kind → interface class every driver of that kind subclasses.
KIND_INTERFACES: dict[DeviceKind, type[DeviceBase]] = {
    DeviceKind.ID_READER: IdCardReader,
    DeviceKind.TURNSTILE: Turnstile,
    DeviceKind.METAL_DETECTOR: MetalDetector,
    DeviceKind.CAMERA: Camera,
    DeviceKind.UPS: Ups,
    DeviceKind.SIGNATURE_PAD: SignaturePad,
    DeviceKind.CARD_PRINTER: CardPrinter,
    DeviceKind.DOCUMENT_PRINTER: DocumentPrinter,
}

__all__ = [
    "Camera", "CardJob", "CardPrinter", "CardType", "ConnState", "DetectorCounters", "DeviceBase",
    "DeviceInfo", "DeviceKind", "Direction", "DocumentJobResult", "DocumentPrinter",
    "DocumentPrinterStatus", "DriverContext", "GateMode", "Health", "IdCardReader", "IdentityCard",
    "JobState", "KIND_INTERFACES", "MediaProfile", "MetalDetector", "PassageResult", "PenPoint",
    "PowerSource", "PrintResult", "PrinterStatus", "Signature", "SignaturePad", "Snapshot",
    "TransitResult", "Turnstile", "TurnstileStatus", "Ups", "UpsStatus",
]
