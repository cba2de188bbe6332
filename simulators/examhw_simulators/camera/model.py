"""State of one simulated ONVIF camera: identity, its own (skewable)
clock, what stands in front of it, credentials, counters, and the backdoor
actions the demo and the tests use."""
from __future__ import annotations

import collections
import random
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from examhw.sim.base import SimModel, action

from . import frames
from .soap import DEFAULT_WINDOW_S, NonceCache

#: snapshot failure modes :meth:`CameraModel.set_snapshot_broken` accepts
BROKEN_MODES = ("html", "empty", "truncated", "error")
VENDORS = ("examhw", "bosch", "hikvision", "dahua")


@dataclass(frozen=True)
class Identity:
    """What ``GetDeviceInformation`` reports."""

    manufacturer: str
    model: str
    firmware: str
    serial: str
    hardware_id: str


def default_identity(vendor: str, seed: int) -> Identity:
    """Identity of a simulated camera of ``vendor`` (serial derived from ``seed``)."""
    serial = f"{seed:010d}"
    if vendor == "hikvision":
        return Identity("HIKVISION", "DS-2CD-SIM", "V5.7.0 build 000000 (simulated)", f"DS-SIM-{serial}", "88")
    if vendor == "dahua":
        return Identity("Dahua", "IPC-SIM", "2.800.0000000.0.R (simulated)", f"DH{serial}", "1.00")
    if vendor == "bosch":        # the served template says Bosch; this is only for reports
        return Identity("Bosch", "FLEXIDOME indoor 5100i IR", "8.71.0066", "000000000000000021", "F0000000")
    return Identity("examhw", "SimCam-640", "1.0.0", f"EXH{serial}", "SIM-1")


@dataclass(frozen=True)
class FrameOrder:
    """Everything a worker thread needs to render one frame without
    touching shared state."""

    portrait: frames.Portrait | None
    seed: int
    osd: str


class CameraModel(SimModel):
    """One camera. ``password`` empty means the camera accepts anyone.

    The camera clock is real UTC plus ``clock_skew_s`` (a camera has its own
    RTC; it does not follow an accelerated site clock)."""

    def __init__(self, role: str, *, vendor: str = "examhw", clock_skew_s: float = 0.0,
                 require_zulu: bool = False, username: str = "admin", password: str = "",
                 window_s: float = DEFAULT_WINDOW_S) -> None:
        if vendor not in VENDORS:
            raise ValueError(f"unknown camera vendor {vendor!r}; known: {', '.join(VENDORS)}")
        self.role = role
        self.vendor = vendor
        self.seed = zlib.crc32(role.encode("utf-8"))
        self.identity = default_identity(vendor, self.seed)
        self.clock_skew_s = float(clock_skew_s)
        self.require_zulu = bool(require_zulu)
        self.username = username
        self._password = password
        self.window_s = window_s
        self.nonces = NonceCache(keep_s=2 * window_s)
        self.background = frames.make_background(self.seed)
        self._portrait: frames.Portrait | None = None
        self._rng = random.Random(self.seed)
        self.frame_counter = 0
        self.snapshot_broken: str | None = None
        self.requests: collections.Counter[str] = collections.Counter()
        self.auth_failures: collections.Counter[str] = collections.Counter()
        self.snapshots: collections.Counter[str] = collections.Counter()

    # -- credentials and clock ----------------------------------------------
    @property
    def password(self) -> str:
        """The password the camera demands ('' = none). Never reported."""
        return self._password

    @property
    def requires_auth(self) -> bool:
        return bool(self._password)

    def camera_now(self) -> datetime:
        """The camera's own clock (aware UTC datetime)."""
        return datetime.now(timezone.utc) + timedelta(seconds=self.clock_skew_s)

    # -- frames ---------------------------------------------------------------
    @property
    def face_shown(self) -> bool:
        return self._portrait is not None

    def next_frame_order(self) -> FrameOrder:
        """Advance the frame counter and draw this frame's jitter seed."""
        self.frame_counter += 1
        stamp = self.camera_now().strftime("%Y-%m-%d %H:%M:%S")
        return FrameOrder(self._portrait, self._rng.getrandbits(32),
                          f"{stamp}  {self.role}  #{self.frame_counter}")

    def render(self, order: FrameOrder) -> bytes:
        """JPEG bytes of one frame (CPU work; safe to run in a worker thread)."""
        frame = frames.compose_frame(self.background, order.portrait, random.Random(order.seed), order.osd)
        return frames.encode_jpeg(frame)

    # -- backdoor actions -----------------------------------------------------
    @action
    def show_face(self, image: bytes | None) -> None:
        """Put the person in ``image`` (encoded JPEG/PNG) in front of the
        camera; ``None`` = nobody. Raises :class:`ValueError` for bytes
        that are not a decodable image."""
        if image is None:
            self._portrait = None
            return
        self._portrait = frames.prepare_portrait(frames.decode_image(bytes(image)))

    @action
    def set_clock_skew(self, seconds: float) -> None:
        """Set the camera clock to real UTC + ``seconds``."""
        self.clock_skew_s = float(seconds)

    @action
    def set_snapshot_broken(self, mode: str | None) -> None:
        """Make snapshots fail: ``html``, ``empty``, ``truncated``, ``error``; ``None`` heals."""
        if mode is not None and mode not in BROKEN_MODES:
            raise ValueError(f"unknown snapshot failure {mode!r}; known: {', '.join(BROKEN_MODES)}")
        self.snapshot_broken = mode

    def snapshot(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "identity": self.identity.__dict__,
            "clock_skew_s": self.clock_skew_s,
            "require_zulu": self.require_zulu,
            "requires_auth": self.requires_auth,
            "username": self.username,
            "face_shown": self.face_shown,
            "frames": self.frame_counter,
            "snapshot_broken": self.snapshot_broken,
            "requests": dict(self.requests),
            "auth_failures": dict(self.auth_failures),
            "snapshots": dict(self.snapshots),
        }
