"""The documentation: the site builds with warnings as errors, the README stays short, its links
resolve (files and heading anchors), and its examples run as written, in a fresh folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_the_site_builds_with_warnings_as_errors(tmp_path):
    out = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(ROOT / "docs"),
                          str(tmp_path / "html")], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-4000:]
    assert (tmp_path / "html" / "guide" / "settlement.html").exists()
    assert "settle" in (tmp_path / "html" / "reference.html").read_text()


def _slug(heading: str) -> str:
    """GitHub's and MyST's anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text, fence, out = path.read_text(), False, set()
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and line.startswith("#"):
            out.add(_slug(line.lstrip("#")))
    return out


def test_the_readme_is_short_and_its_links_resolve():
    assert README.count("\n") <= 200
    pages = [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            file, _, anchor = target.partition("#")
            path = (page.parent / file).resolve() if file else page
            assert path.exists(), f"{page.relative_to(ROOT)}: {target}"
            if anchor and path.suffix == ".md":
                assert anchor in _anchors(path), f"{page.relative_to(ROOT)}: {target}"


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", README, flags=re.S)


def test_the_readme_examples_run_as_written(tmp_path, monkeypatch):
    """Every shell command of the README (but the two install commands) and every Python block, in
    order, in a fresh folder holding the example deals and scenarios."""
    for name in ("tranches", "scenarios"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    shell = [b for b in _blocks("sh") if "pip install" not in b]
    python = _blocks("python")
    assert len(shell) == 3 and len(python) == 3
    structurer_sh, servicer_sh, settle_sh = shell
    namespace: dict = {}
    monkeypatch.chdir(tmp_path)
    for script, code in ((structurer_sh, python[0]), (servicer_sh, python[1]), (settle_sh, python[2])):
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        exec(compile(code, "README.md", "exec"), namespace)   # noqa: S102 - the README's own example
    assert (tmp_path / "results.parquet").exists() and (tmp_path / "grid.csv").exists()
    assert namespace["servicer"].verify().ok
    assert namespace["s"].check() == {"tranches": True, "chains": True}
    statuses = [r["status"] for r in namespace["servicer"].ledger.instructions(3)]
    assert statuses.count("built") == 2 and statuses.count("submitted") == 1


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "docs" / "guide").glob("*.md")))
def test_every_guide_page_is_in_the_index(page):
    assert f"guide/{page[:-3]}" in (ROOT / "docs" / "index.md").read_text()
