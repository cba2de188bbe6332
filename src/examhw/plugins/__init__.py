"""Plugin host: pluggy hooks, entry-point group ``examhw``."""
import pluggy

PROJECT = "examhw"
#: Plugin API version; a plugin declaring a higher ``EXAMHW_API`` is refused.
EXAMHW_API = 1
hookimpl = pluggy.HookimplMarker(PROJECT)

from .registry import DriverSpec, PhotoDecoderSpec, Registry, SimulatorSpec  # noqa: E402
from .host import PluginHost, PluginLoadFailure  # noqa: E402

__all__ = ["EXAMHW_API", "DriverSpec", "PhotoDecoderSpec", "PluginHost", "PluginLoadFailure",
           "Registry", "SimulatorSpec", "hookimpl"]
