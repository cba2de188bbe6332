"""Contract every built-in driver keeps: it is registered through the entry
point, its simulator is registered too, and with ``url = "sim:"`` the site
starts the simulator, builds the SAME driver against the simulator's live
endpoint, opens it, and the device reports itself healthy."""
import pytest

from examhw import Site, parse_site
from examhw.kinds import KIND_INTERFACES, ConnState, DeviceKind
from examhw.plugins import PluginHost

HOST = PluginHost.load(strict=True)
BUILTIN = sorted(name for name, spec in HOST.registry.drivers.items() if name.startswith("examhw."))


def test_every_kind_has_a_driver_and_a_simulator():
    for kind in DeviceKind:
        drivers = [d for d in HOST.registry.drivers_for(kind) if d.simulator]
        assert drivers, f"no driver with a simulator for {kind.value}"
        for d in drivers:
            assert d.simulator in HOST.registry.simulators, d.name
            assert HOST.registry.simulators[d.simulator].kind == kind


@pytest.mark.parametrize("driver", BUILTIN)
async def test_driver_opens_against_its_simulator(driver):
    spec = HOST.registry.drivers[driver]
    cfg = parse_site(f'[devices.dev]\nkind = "{spec.kind.value}"\ndriver = "{driver}"\nurl = "sim:"\n')
    async with Site(cfg, plugins=HOST) as site:
        dev = site.devices["dev"]
        assert isinstance(dev, KIND_INTERFACES[spec.kind])
        assert dev.url.scheme in spec.schemes            # the URL was rewritten to a real endpoint
        assert dev.state in (ConnState.READY, ConnState.DEGRADED)
        health = await dev.health()
        assert health.ok, health.detail
        assert dev.describe()["kind"] == spec.kind.value
    assert dev.state == ConnState.CLOSED
