import types

import pytest

from examhw import PluginError
from examhw.kinds import DeviceKind
from examhw.plugins import DriverSpec, PluginHost, hookimpl


def _plugin(name, fn):
    mod = types.ModuleType(name)
    mod.examhw_register_drivers = hookimpl(fn)
    return mod


def _spec(name):
    return DriverSpec(name=name, kind=DeviceKind.UPS, schemes=("tcp",), factory=lambda *a: None)


def test_broken_plugin_is_reported_not_fatal():
    good = _plugin("good", lambda registry: registry.add_driver(_spec("good.ups")))

    def boom(registry):
        raise RuntimeError("vendor bug")

    host = PluginHost.load(modules=[good, _plugin("bad", boom)], autoload=False)
    assert "good.ups" in host.registry.drivers
    assert [f.name for f in host.failures] == ["bad"] and "vendor bug" in host.failures[0].error


def test_broken_plugin_is_fatal_when_strict():
    def boom(registry):
        raise RuntimeError("vendor bug")
    with pytest.raises(PluginError):
        PluginHost.load(modules=[_plugin("bad", boom)], autoload=False, strict=True)


def test_duplicate_driver_names_both_plugins():
    a = _plugin("a", lambda registry: registry.add_driver(_spec("same")))
    b = _plugin("b", lambda registry: registry.add_driver(_spec("same")))
    host = PluginHost.load(modules=[a, b], autoload=False)
    assert host.failures and "'a'" in host.failures[0].error and "'b'" in host.failures[0].error


def test_builtins_come_through_entry_points(plugins):
    assert {"examhw-drivers", "examhw-simulators"} <= {n for n, _, _ in plugins.loaded}
