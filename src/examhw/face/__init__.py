"""Face verification at the identity gate and the seat (R-DEV-GATE, R-OPS-SEAT):
the live camera face against the ID-card photo. See docs/face.md."""
from __future__ import annotations

from .verifier import FaceBox, FaceResult, FaceVerifier

__all__ = ["FaceBox", "FaceResult", "FaceVerifier"]
