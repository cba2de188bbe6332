"""ACME AX-1 UPS driver (the vendor's side of the wire)."""
from __future__ import annotations

from examhw.errors import DeviceFault, FrameError
from examhw.kinds import DeviceInfo, PowerSource, Ups, UpsStatus
from examhw.transports.stream import ByteStream, request
from examhw.transports.tcp import open_tcp


class _Lines:
    """Incremental CR LF line decoder."""

    def __init__(self) -> None:
        self._buf = b""

    def reset(self) -> None:
        self._buf = b""

    def feed(self, data: bytes) -> list[str]:
        self._buf += data
        *lines, self._buf = self._buf.split(b"\r\n")
        try:
            return [ln.decode("ascii") for ln in lines]
        except UnicodeDecodeError as exc:
            raise FrameError(f"non-ASCII reply: {exc}") from None


class Ax1Ups(Ups):
    capabilities = frozenset({"status"})

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._stream: ByteStream | None = None
        self._lines = _Lines()
        self._last_source = PowerSource.UNKNOWN

    async def _ask(self, cmd: str) -> list[str]:
        assert self._stream is not None
        reply = await request(self._stream, self._lines, cmd.encode() + b"\r\n", timeout=self.timeout_s)
        parts = reply.split()
        if not parts:
            raise FrameError("empty reply", role=self.role)
        if parts[0] == "ER":
            raise DeviceFault("AX-1 refused the command", code=parts[1] if len(parts) > 1 else "?", role=self.role)
        return parts

    async def _open(self) -> None:
        self._stream = await open_tcp(self.url, default_port=7001, timeout=self.timeout_s)
        parts = await self._ask("ID")
        self.info = DeviceInfo(vendor="ACME", model=parts[1], serial=parts[2], firmware=parts[3])

    async def _close(self) -> None:
        if self._stream is not None:
            await self._stream.close()
            self._stream = None

    async def _probe(self) -> str:
        s = await self.status()
        return f"{s.source.value} {s.charge_pct}%"

    async def status(self) -> UpsStatus:
        parts = await self._call(self._ask("ST"))
        if len(parts) != 6 or parts[0] != "ST":
            raise FrameError(f"bad status reply {' '.join(parts)!r}", role=self.role)
        flags = frozenset(f for f in parts[1].split("+") if f)
        source = PowerSource.MAINS if "OL" in flags else PowerSource.BATTERY if "OB" in flags else PowerSource.UNKNOWN
        if source != self._last_source and self._last_source != PowerSource.UNKNOWN:
            self.events.emit("power_lost" if source == PowerSource.BATTERY else "power_restored")
        self._last_source = source
        return UpsStatus(source=source, flags=flags, charge_pct=float(parts[2]), runtime_s=float(parts[3]),
                         input_v=float(parts[4]), load_pct=float(parts[5]))
