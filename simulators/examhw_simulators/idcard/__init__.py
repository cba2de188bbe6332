"""``examhw.sim.sam-serial``: a simulated ID card reader (GA 467 SAM) on a pty, plus the
``examhw.sim-photo`` decoder for the simulator's XSIM photo blocks."""
from __future__ import annotations

from examhw.kinds import DeviceKind
from examhw.plugins import PhotoDecoderSpec, SimulatorSpec

from .model import CardState, IdCardModel, SimCard, synthetic_fingerprint
from .photo import decode_photo_block, make_photo_block
from .simulator import SamSerialSimulator

SIMULATOR = SimulatorSpec(
    name="examhw.sim.sam-serial",
    kind=DeviceKind.ID_READER,
    factory=SamSerialSimulator,
    transport="pty",
    options={"reply_delay_s": float},
    description="ID card reader with a GA 467 SAM on a pty; cards via present_card/remove_card",
)

PHOTO_DECODER = PhotoDecoderSpec(name="examhw.sim-photo", decode=decode_photo_block)

__all__ = ["CardState", "IdCardModel", "PHOTO_DECODER", "SIMULATOR", "SamSerialSimulator", "SimCard",
           "decode_photo_block", "make_photo_block", "synthetic_fingerprint"]
