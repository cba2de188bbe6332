"""``examhw demo``: one whole simulated exam session of a 100-seat site.

The *site* side (``examhw.flow``) only talks to devices through drivers;
the *world* side (:mod:`.world`) plays the people: it presents cards,
walks through the detector and the gate, looks into cameras, answers
questions and signs, by calling simulator backdoor actions.
"""
from .run import run_demo, run_demo_cli

__all__ = ["run_demo", "run_demo_cli"]
