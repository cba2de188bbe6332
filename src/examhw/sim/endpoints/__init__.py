"""Endpoints: how a simulator is reached (pty, loopback TCP, HTTP, Modbus)."""
from .link import ByteLink, StreamSession
from .pty import PtyEndpoint
from .tcp import TcpEndpoint

__all__ = ["ByteLink", "PtyEndpoint", "StreamSession", "TcpEndpoint"]
