"""Shared fixtures. Tests are arranged unit/ (pure code), sim/ (a driver
against its simulator over the real transport), contract/ (every driver of
a kind against the same expectations), system/ (the whole session)."""
from __future__ import annotations

from pathlib import Path

import pytest

from examhw.plugins import PluginHost

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def plugins() -> PluginHost:
    """The installed plugins, loaded strictly: a broken built-in fails the run."""
    return PluginHost.load(strict=True)


@pytest.fixture
def data_dir() -> Path:
    return DATA
