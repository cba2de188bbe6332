"""Benchmarks are measured only on request.

A plain ``pytest`` (or ``pytest tests/bench``) runs every benchmarked function
once, as pytest-benchmark does under ``--benchmark-disable``, so the normal test
run stays fast while still checking that the benchmarked code works.
``pytest tests/bench --benchmark-only`` (``make bench``) or ``--benchmark-enable``
measures for real.
"""
from __future__ import annotations

import pytest


@pytest.fixture
def benchmark(benchmark, request):
    """pytest-benchmark's fixture, switched to single-run mode unless
    benchmarks were asked for explicitly."""
    opt = request.config.getoption
    if not (opt("benchmark_only") or opt("benchmark_enable")):
        benchmark.disabled = True
    return benchmark
