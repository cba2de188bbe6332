"""Layering rules that keep simulation honest: a simulator never imports a
driver's codec or a driver transport (so a codec bug cannot cancel itself
out), drivers never import simulators, and only the transport modules import
the third-party device stacks."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _py(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", _py("simulators"), ids=lambda p: str(p.relative_to(ROOT)))
def test_simulators_do_not_import_drivers_or_transports(path):
    bad = {n for n in _imports(path) if n.startswith(("examhw_drivers", "examhw.transports"))}
    assert not bad, f"{path} imports {bad}"


@pytest.mark.parametrize("path", _py("drivers"), ids=lambda p: str(p.relative_to(ROOT)))
def test_drivers_do_not_import_simulators(path):
    bad = {n for n in _imports(path) if n.startswith(("examhw_simulators", "examhw.sim"))}
    assert not bad, f"{path} imports {bad}"


@pytest.mark.parametrize("stack, allowed", [
    ("serial", ("src/examhw/transports/serial.py",)),
    ("pymodbus", ("src/examhw/transports/modbus.py", "src/examhw/sim/endpoints/modbus.py")),
    ("onvif", ("src/examhw/transports/onvif.py",)),
    ("zeep", ("src/examhw/transports/onvif.py",)),
])
def test_one_place_imports_each_device_stack(stack, allowed):
    users = {str(p.relative_to(ROOT)) for folder in ("src", "drivers", "simulators") for p in _py(folder)
             if any(n == stack or n.startswith(stack + ".") for n in _imports(p))}
    assert users <= set(allowed), users - set(allowed)
