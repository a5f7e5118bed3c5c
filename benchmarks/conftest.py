"""Benchmark sizes: full with ABS_BENCH_FULL=1 (the figures in docs/benchmarks.md), a quick smoke otherwise
(what CI runs). Every benchmark warms the JIT before timing."""

from __future__ import annotations

import os

import pytest

FULL = os.environ.get("ABS_BENCH_FULL") == "1"


def size(full: int, smoke: int) -> int:
    return full if FULL else smoke


@pytest.fixture
def report(capsys):
    """Print a benchmark's figures to the terminal even when output is captured."""

    def emit(*lines: str) -> None:
        with capsys.disabled():
            print()
            for line in lines:
                print("   ", line)

    return emit
