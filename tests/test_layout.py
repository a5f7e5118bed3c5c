"""DESIGN.md's layout and import rules, checked on the source.

* The package is laid out by stage: ``spec/``, ``io/``, ``compile/``, ``kernels/``, ``engine/``,
  ``results/``, ``servicing/``, ``settlement/``, and a few top-level modules every stage shares.
* Kernels import only numpy, numba, math and their own modules; specs only pydantic, the standard
  library and the error type.
* A stage imports only the stages before it (``STAGES``); settlement never reaches the kernels or
  the engine, directly or through other modules.
* No import cycles between modules, counting imports inside functions.
* Imports inside functions are only of other libraries (deferred: optional extras, or heavy ones a
  projection does not need), each with a comment saying why; never of the package's own modules.
* Nothing imports the package's top-level ``__init__``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "abs_engine"
TOP_LEVEL = {"__init__.py", "__main__.py", "cli.py", "errors.py", "vocabulary.py", "dates.py", "units.py"}
# each stage and the stages it may import (besides the shared top-level modules)
STAGES = {
    "spec": set(),
    "io": {"spec", "kernels"},  # a tape of millions of rows is checked by a compiled pass (kernels/strings.py)
    "kernels": set(),
    "compile": {"spec", "io", "kernels"},
    "results": {"spec", "io", "compile", "kernels"},
    "engine": {"spec", "io", "compile", "kernels", "results"},
    "servicing": {"spec", "io", "compile", "kernels", "results", "engine"},
    "settlement": {"spec", "io", "servicing"},
}
SHARED = {"errors", "vocabulary", "dates", "units"}


def _in_type_checking(node: ast.AST, parents: dict) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports(path: Path, *, type_checking: bool = False) -> list[tuple[str, int, ast.AST, bool]]:
    """(module, level, node, inside a function) of every import in a file; level > 0 is relative;
    imports under ``if TYPE_CHECKING`` are left out unless ``type_checking``."""
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom) or (not type_checking and _in_type_checking(node, parents)):
            continue
        inside, up = False, node
        while up in parents:
            up = parents[up]
            inside = inside or isinstance(up, ast.FunctionDef | ast.AsyncFunctionDef)
        if isinstance(node, ast.Import):
            out += [(a.name, 0, node, inside) for a in node.names]
        else:
            out.append((node.module or "", node.level, node, inside))
    return out


def files(sub: str) -> list[Path]:
    return sorted((PKG / sub).glob("*.py"))


ALL = sorted(PKG.rglob("*.py"))


def _name(path: Path) -> str:
    return str(path.relative_to(PKG))


def _resolve(path: Path, module: str, level: int, node: ast.AST) -> set[Path]:
    """The package's own module files an import names (``from . import x`` names module ``x``)."""
    if level == 0:
        if not module.startswith("abs_engine."):
            return set()
        base, parts = PKG.parent, module.split(".")
    else:
        base = path.parent
        for _ in range(level - 1):
            base = base.parent
        parts = module.split(".") if module else []
    target = base.joinpath(*parts)
    out = {c for c in (target.with_suffix(".py"), target / "__init__.py") if c.is_file()}
    if isinstance(node, ast.ImportFrom):  # names that are modules of a package
        for a in node.names:
            sub = target / a.name
            out |= {c for c in (sub.with_suffix(".py"), sub / "__init__.py") if c.is_file()}
    return out


def _graph() -> dict[Path, set[Path]]:
    return {p: set().union(*(_resolve(p, m, lv, n) for m, lv, n, _ in imports(p)), set()) for p in ALL}


def test_the_package_is_laid_out_by_stage():
    top = {p.name for p in PKG.glob("*.py")}
    assert top <= TOP_LEVEL, f"modules outside the stage packages: {sorted(top - TOP_LEVEL)}"
    packages = {p.name for p in PKG.iterdir() if (p / "__init__.py").is_file()}
    assert packages == set(STAGES), packages


@pytest.mark.parametrize("path", files("kernels"), ids=lambda p: p.name)
def test_kernels_import_only_numpy_numba_and_themselves(path):
    for module, level, _, _ in imports(path):
        top = module.split(".")[0]
        assert level == 1 or top in {"numpy", "numba", "math", "__future__"}, f"{path.name} imports {module}"


@pytest.mark.parametrize("path", files("spec"), ids=lambda p: p.name)
def test_specs_import_only_pydantic_and_stdlib(path):
    for module, level, _, _ in imports(path):
        top = module.split(".")[0]
        if level == 0:
            assert top == "pydantic" or top in sys.stdlib_module_names, f"{path.name} imports {module}"
        else:  # relative: its own package, or the error type one level up
            assert level == 1 or module == "errors", f"{path.name} imports {'.' * level}{module}"


@pytest.mark.parametrize("path", [p for p in ALL if p.parent != PKG], ids=_name)
def test_a_stage_imports_only_the_stages_before_it(path):
    stage = path.relative_to(PKG).parts[0]
    allowed = STAGES[stage] | SHARED | {stage}
    for target in _graph()[path]:
        parts = target.relative_to(PKG).parts
        other = parts[0] if len(parts) > 1 else Path(parts[0]).stem
        assert other in allowed, f"{_name(path)} ({stage}) imports {_name(target)}"


@pytest.mark.parametrize("path", ALL, ids=_name)
def test_nothing_imports_the_top_level_package(path):
    for module, level, _, _ in imports(path):
        assert module != "abs_engine", f"{path} imports abs_engine"
        depth = len(path.relative_to(PKG).parts)  # 1 for abs_engine/x.py
        assert not (level == depth and module == ""), f"{path} imports the package __init__"


def test_no_import_cycles():
    graph = _graph()
    state: dict[Path, int] = {}
    stack: list[Path] = []

    def visit(p: Path) -> None:
        state[p] = 1
        stack.append(p)
        for q in sorted(graph[p]):
            if q.name == "__init__.py" and q.parent == PKG:
                continue  # the top-level package only re-exports (and nothing imports it)
            if state.get(q) == 1:
                cycle = stack[stack.index(q):] + [q]
                pytest.fail("import cycle: " + " -> ".join(_name(x) for x in cycle))
            if q not in state:
                visit(q)
        stack.pop()
        state[p] = 2

    for p in ALL:
        if p not in state:
            visit(p)


@pytest.mark.parametrize("path", ALL, ids=_name)
def test_imports_inside_functions_are_other_libraries_with_a_reason(path):
    lines = path.read_text().splitlines()
    for module, level, node, inside in imports(path, type_checking=True):
        if not inside:
            continue
        assert level == 0 and not module.startswith("abs_engine"), \
            f"{_name(path)}:{node.lineno} imports the package's own {'.' * level}{module} inside a function"
        assert "#" in lines[node.lineno - 1] or lines[node.lineno - 2].strip().startswith("#"), \
            f"{_name(path)}:{node.lineno} defers `{lines[node.lineno - 1].strip()}` without saying why"


@pytest.mark.parametrize("stage", ["settlement"])
def test_settlement_never_reaches_the_kernels_or_the_engine(stage):
    """DESIGN.md: settlement reads period reports; nothing it imports, directly or through other
    modules, reaches ``abs_engine/kernels`` or ``abs_engine/engine``."""
    graph = _graph()
    seen, todo = set(), list(files(stage))
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        assert path.relative_to(PKG).parts[0] not in {"kernels", "engine"}, f"{stage} reaches {_name(path)}"
        todo += graph[path]


def test_the_vocabulary_map_of_kernel_columns_is_the_kernels_layout():
    """``vocabulary.KERNEL_COLUMNS`` (plain data) names the positions the kernels write."""
    from abs_engine.kernels import collateral as KC
    from abs_engine.kernels import summaries as KS
    from abs_engine.kernels import waterfall as KW
    from abs_engine.vocabulary import KERNEL_COLUMNS as K

    expected = {
        "pool": {"scheduled_principal": KC.SCHED, "prepayment": KC.PREPAY, "default": KC.DEFAULT,
                 "recovery": KC.RECOVERY, "loss": KC.LOSS, "gross_interest": KC.GROSS, "net_interest": KC.NET,
                 "performing_balance": KC.PERF, "foreclosure_balance": KC.FCL, "amortized_balance": KC.AMORTIZED},
        "tranches": {"beginning_balance": KW.TR_BEG, "coupon": KW.TR_COUPON, "interest_due": KW.TR_DUE,
                     "interest_paid": KW.TR_PAID, "interest_shortfall": KW.TR_SHORT, "principal_paid": KW.TR_PRIN,
                     "writedown": KW.TR_WD, "ending_balance": KW.TR_END, "accretion": KW.TR_ACCRETION,
                     "notional": KW.TR_NOTIONAL, "residual_paid": KW.TR_COLS},
        "fees": {"due": KW.FEE_DUE, "paid": KW.FEE_PAID, "shortfall": KW.FEE_SHORT},
        "accounts": {"beginning_balance": KW.AC_BEG, "deposit": KW.AC_DEP, "draw": KW.AC_DRAW,
                     "release": KW.AC_REL, "ending_balance": KW.AC_END, "target": KW.AC_TARGET},
        "triggers": {"value": KW.TG_VALUE, "threshold": KW.TG_THRESHOLD, "breached": KW.TG_BREACHED},
        "cash": {"interest_collections": KW.C_INTEREST, "principal_collections": KW.C_PRINCIPAL,
                 "call_proceeds": KW.C_CALL, "loss": KW.C_LOSS, "reserve_draws": KW.C_DRAWS,
                 "reserve_releases": KW.C_RELEASES, "fees_paid": KW.C_FEES, "interest_paid": KW.C_NOTE_INTEREST,
                 "principal_paid": KW.C_NOTE_PRINCIPAL, "reserve_deposits": KW.C_DEPOSITS,
                 "residual_paid": KW.C_RESIDUAL, "unallocated": KW.C_UNALLOCATED, "writedown": KW.C_WRITEDOWN,
                 "note_balance_beginning": KW.C_NOTES_BEG, "note_balance_ending": KW.C_NOTES_END,
                 "pool_balance_beginning": KW.C_POOL_BEG, "pool_balance_ending": KW.C_POOL_END,
                 "accretion": KW.C_ACCRETION, "accelerated": KW.C_ACCELERATED,
                 "hedge_receipts": KW.C_HEDGE_RECEIPTS, "hedge_payments": KW.C_HEDGE_PAYMENTS,
                 "facility_draws": KW.C_FACILITY_DRAWS, "facility_interest": KW.C_FACILITY_INTEREST,
                 "facility_repayments": KW.C_FACILITY_REPAYMENTS},
        "instruments": {"notional": KW.HX_NOTIONAL, "rate": KW.HX_RATE, "net_amount": KW.HX_NET, "due": KW.HX_DUE,
                        "paid": KW.HX_PAID, "shortfall": KW.HX_SHORT, "receipt": KW.HX_RECEIPT,
                        "beginning_balance": KW.HX_BEG, "repayment": KW.HX_REPAID, "draw": KW.HX_DRAW,
                        "ending_balance": KW.HX_END},
        "summary": {"wal": KS.S_WAL, "first_principal_period": KS.S_FIRST, "last_principal_period": KS.S_LAST,
                    "total_interest": KS.S_INTEREST, "total_principal": KS.S_PRINCIPAL,
                    "total_writedown": KS.S_WRITEDOWN, "yield": KS.S_YIELD, "price": KS.S_PRICE,
                    "modified_duration": KS.S_MOD_DURATION},
        "summary_extra": {"total_residual": KS.X_RESIDUAL, "pool_loss": KS.X_POOL_LOSS},
    }
    assert K == expected
    widths = {"pool": KC.NCOL, "tranches": KW.TR_COLS + 1, "fees": KW.FEE_COLS, "accounts": KW.ACCT_COLS,
              "triggers": KW.TRIG_COLS, "cash": KW.CASH_COLS, "instruments": KW.HX_COLS,
              "summary": KS.N_STATS, "summary_extra": KS.N_EXTRA}
    assert {t: len(cols) for t, cols in K.items()} == widths  # every kernel column is named
