"""Simulator framework: a simulator is a device *model* (state, clock,
actions, faults) plus a protocol *codec* plus an *endpoint* (pty, TCP, HTTP,
Modbus). Device simulators live in the top-level ``simulators/`` package and
register through the ``examhw`` entry-point group like any plugin.

Nothing here imports :mod:`examhw.transports`: simulators never share a
codec with the drivers they serve.
"""
from .base import SimContext, SimModel, Simulator, action
from .faults import FaultPlan

__all__ = ["FaultPlan", "SimContext", "SimModel", "Simulator", "action"]
