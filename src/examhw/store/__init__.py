"""Durable, tamper-evident record of the exam day (R-SEC-LOG)."""
from .chain import ChainBroken, Record, RecordStore

__all__ = ["ChainBroken", "Record", "RecordStore"]
