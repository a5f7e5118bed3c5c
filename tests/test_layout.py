"""DESIGN.md's import rules, checked on the source: kernels import only numpy, numba and their own
modules; spec modules only pydantic and the standard library; nothing imports the package's
top-level ``__init__``."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "abs_engine"


def imports(path: Path) -> list[tuple[str, int]]:
    """(module, level) of every import in a file; level > 0 is relative."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(a.name, 0) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.module or "", node.level))
    return out


def files(sub: str) -> list[Path]:
    return sorted((PKG / sub).glob("*.py"))


@pytest.mark.parametrize("path", files("kernels"), ids=lambda p: p.name)
def test_kernels_import_only_numpy_numba_and_themselves(path):
    for module, level in imports(path):
        top = module.split(".")[0]
        assert level == 1 or top in {"numpy", "numba", "math", "__future__"}, f"{path.name} imports {module}"


@pytest.mark.parametrize("path", files("spec"), ids=lambda p: p.name)
def test_specs_import_only_pydantic_and_stdlib(path):
    for module, level in imports(path):
        top = module.split(".")[0]
        if level == 0:
            assert top == "pydantic" or top in sys.stdlib_module_names, f"{path.name} imports {module}"
        else:  # relative: its own package, or the error type one level up
            assert level == 1 or module == "errors", f"{path.name} imports {'.' * level}{module}"


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(PKG)))
def test_nothing_imports_the_top_level_package(path):
    for module, level in imports(path):
        assert module != "abs_engine", f"{path} imports abs_engine"
        depth = len(path.relative_to(PKG).parts)  # 1 for abs_engine/x.py
        assert not (level == depth and module == ""), f"{path} imports the package __init__"


def _package_imports(path: Path) -> set[Path]:
    """The package's own modules a file imports (relative imports, resolved to files)."""
    out = set()
    for module, level in imports(path):
        if level == 0:
            continue
        base = path.parent
        for _ in range(level - 1):
            base = base.parent
        target = base.joinpath(*module.split(".")) if module else base
        for candidate in (target.with_suffix(".py"), target / "__init__.py"):
            if candidate.is_file():
                out.add(candidate)
    return out


SETTLEMENT = ("settlement.py", "onchain.py", "merkle.py", "reports.py", "attestation.py", "units.py")


@pytest.mark.parametrize("name", SETTLEMENT)
def test_settlement_never_imports_the_kernels(name):
    """DESIGN.md: settlement reads results; nothing it imports, directly or through other
    modules, reaches ``abs_engine/kernels``."""
    seen, todo = set(), [PKG / name]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        assert "kernels" not in path.relative_to(PKG).parts, f"{name} reaches {path.relative_to(PKG)}"
        todo += _package_imports(path)
