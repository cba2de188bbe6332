"""examhw: drive every device of a computer-based driving-licence theory exam
site, simulate each one on its real wire protocol, and run the exam flow."""
from .blocking import BlockingSite
from .clock import Clock, RealClock, ScaledClock
from .config import DeviceConfig, SiteConfig, load_site, parse_site
from .errors import (CapabilityNotSupported, ChecksumError, ConfigError, DeviceError, DeviceFault,
                     DeviceTimeout, DeviceUnavailable, ExamHwError, FrameError, NoCard, PluginError,
                     ProtocolError)
from .events import DeviceEvent, EventHub
from .kinds import DeviceKind
from .plugins import PluginHost
from .site import Site
from .urls import DeviceURL

__version__ = "0.1.0"

__all__ = [
    "BlockingSite", "CapabilityNotSupported", "ChecksumError", "Clock", "ConfigError", "DeviceConfig",
    "DeviceError", "DeviceEvent", "DeviceFault", "DeviceKind", "DeviceTimeout", "DeviceURL",
    "DeviceUnavailable", "EventHub", "ExamHwError", "FrameError", "NoCard", "PluginError", "PluginHost",
    "ProtocolError", "RealClock", "ScaledClock", "Site", "SiteConfig", "__version__", "load_site", "parse_site",
]
