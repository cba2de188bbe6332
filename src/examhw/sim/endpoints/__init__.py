"""Endpoints: how a simulator is reached (pty, loopback TCP, HTTP, Modbus)."""
from .http import HttpEndpoint
from .link import ByteLink, StreamSession
from .pty import PtyEndpoint
from .tcp import TcpEndpoint

__all__ = ["ByteLink", "HttpEndpoint", "PtyEndpoint", "StreamSession", "TcpEndpoint"]
