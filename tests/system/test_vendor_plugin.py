"""A vendor package (examples/vendor_plugin) is pip-installed and found
through the ``examhw`` entry point, exactly like the built-in drivers."""
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def vendor_site(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("vendor")
    source = work / "acme-examhw"          # build from a copy: never write build/ into the repository
    shutil.copytree(ROOT / "examples" / "vendor_plugin", source)
    target = work / "site-packages"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True)
    return target


def _env(target: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(target) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("EXAMHW_DISABLE_PLUGIN_AUTOLOAD", None)
    return env


def test_vendor_plugin_is_discovered_through_its_entry_point(vendor_site):
    out = subprocess.run([sys.executable, "-m", "examhw", "plugins", "--json", "--strict"], env=_env(vendor_site),
                         capture_output=True, text=True, check=True)
    info = json.loads(out.stdout)
    assert {"name": "acme", "dist": "acme-examhw", "version": "1.0.0"} in info["plugins"]
    assert "acme.ax1-ups" in info["kinds"]["ups"]["drivers"]
    assert "acme.sim.ax1-ups" in info["kinds"]["ups"]["simulators"]


def test_vendor_driver_runs_against_its_simulator_through_a_site(vendor_site, tmp_path):
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent("""
        import asyncio
        from examhw import Site, parse_site
        from examhw.kinds import Ups
        CFG = '''
        [devices.ups]
        kind = "ups"
        driver = "acme.ax1-ups"
        url = "sim:"
        '''
        async def main():
            async with Site(parse_site(CFG)) as site:
                ups = site.device("ups", Ups)
                a = await ups.status()
                await site.sims.model("ups").act("mains_fail")
                b = await ups.status()
                print(ups.info.model, a.source.value, b.source.value, ups.url.scheme)
        asyncio.run(main())
    """))
    out = subprocess.run([sys.executable, str(script)], env=_env(vendor_site), capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["AX-1", "mains", "battery", "tcp"]


def test_without_the_package_the_driver_is_unknown(vendor_site):
    out = subprocess.run([sys.executable, "-m", "examhw", "plugins", "--json"], capture_output=True, text=True,
                         check=True)
    assert "acme.ax1-ups" not in json.loads(out.stdout)["kinds"]["ups"]["drivers"]
