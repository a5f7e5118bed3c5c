"""The notice before a first compile: printed once, only when a kernel is neither compiled in the
process nor cached on disk, and never with ABS_ENGINE_QUIET=1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from abs_engine.engine import compiling

ROOT = Path(__file__).resolve().parents[2]


def _kernel(index: Path, signatures=()):
    """Something shaped as a numba dispatcher whose cache index is ``index``."""
    return SimpleNamespace(signatures=list(signatures), _cache=SimpleNamespace(_cache_file=SimpleNamespace(
        _index_path=str(index))))


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(compiling, "_said", False)
    monkeypatch.delenv("ABS_ENGINE_QUIET", raising=False)


def test_a_kernel_cached_on_disk_or_compiled_in_the_process_is_no_news(fresh, tmp_path, capsys):
    cached = tmp_path / "k.nbi"
    cached.write_text("")
    assert not compiling.announce_if_cold(_kernel(cached), _kernel(tmp_path / "absent.nbi", ["sig"]))
    assert not compiling.announce_if_cold(SimpleNamespace(signatures=[]))  # no cache to locate: no notice
    assert capsys.readouterr().err == ""


def test_a_cold_kernel_is_announced_once_on_one_line(fresh, tmp_path, capsys):
    assert compiling.announce_if_cold(_kernel(tmp_path / "k.nbi"))
    assert not compiling.announce_if_cold(_kernel(tmp_path / "k.nbi"))  # once per process
    err = capsys.readouterr().err
    assert err == compiling.NOTICE + "\n"


def test_quiet_means_quiet(fresh, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ABS_ENGINE_QUIET", "1")
    assert not compiling.announce_if_cold(_kernel(tmp_path / "k.nbi"))
    assert capsys.readouterr().err == ""


def test_a_warm_run_in_a_fresh_process_prints_nothing():
    # the kernels this run needs are cached by the tests before it: a fresh process loads them
    code = "import abs_engine as ae; ae.run('tranches/agency_30y.yaml', 'scenarios/base.yaml')"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=600)  # (cache them if not yet)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True,
                         timeout=600)
    assert compiling.NOTICE not in out.stderr


def test_code_written_for_the_first_time_is_announced(fresh, tmp_path, capsys):
    cached = tmp_path / "k.nbi"
    cached.write_text("")
    assert compiling.announce_if_cold(_kernel(cached), new=True)  # a period generated for a new structure
    assert capsys.readouterr().err == compiling.NOTICE + "\n"
