"""The waterfall period of summary runs, generated for one waterfall structure.

:func:`abs_engine.kernels.waterfall.interpret` interprets the step table: its loops go step ->
group member -> scenario lane, with rows chosen at run time. LLVM cannot tell those rows apart,
so most of its lane loops run one lane at a time. For summary runs, the deal's structure (steps,
members, fee bases, trigger metrics, the order of writedowns) is known before the run, so this
module writes the period as straight-line code over one scenario lane:

* the lane loop is outermost, and its body is one period of one lane: the call, amounts due,
  triggers, every step, writedowns, carry-forwards and the running sums;
* every value the period carries over lives in one flat array at a row fixed when the code is
  written (``S[row * SB + l]``, the layout of :func:`abs_engine.kernels.state.layout`), the
  period's working values are local variables, and every branch is a select, so LLVM
  vectorizes the lane loop (``SB`` lanes, AVX-512 where present).

The arithmetic is :func:`~abs_engine.kernels.waterfall.interpret`'s, operation for operation and in
the same order, and it is compiled without re-association, so the summaries equal a full run's
(``tests/results/test_scale_and_plots.py`` and the random-deal oracle check this). The numbers of the
structure (fee rates, targets, thresholds, coupons) stay in the parameter array ``P``: deals
that differ only in numbers share one period.

The period is a C-callable function (``period(S, P)``), passed to
:func:`abs_engine.kernels.deal.run_blocks` as a first-class function: that kernel is
compiled once for every structure, and a new structure costs only its period (a few seconds,
once). The source is written to a cache directory (``ABS_ENGINE_CACHE_DIR``, else
``$XDG_CACHE_HOME/abs_engine``, else ``~/.cache/abs_engine``; a temporary directory if that is
not writable) and compiled by numba with ``cache=True`` next to it, so a fresh process loads the
machine code. The file name hashes the structure and the source of the kernel modules, so a
changed engine never loads a stale period.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
import stat
import sys
import tempfile
import threading
from pathlib import Path

from ..kernels import deal as KD
from ..kernels import ops as KO
from ..kernels import state as KST
from ..kernels import waterfall as KW
from ..kernels.collateral import FCL, LOSS, NCOL, NET, PERF, PREPAY, RECOVERY, SCHED
from .compiling import announce_if_cold

__all__ = ["summary_period", "structure_key", "kernel_source", "cache_dir"]

SB = KW.SB
_LOCK = threading.Lock()
_LOADED: dict[str, object] = {}
_KERNELS = Path(__file__).resolve().parents[1] / "kernels"


def structure_key(structure: tuple) -> tuple:
    """What the generated code depends on, from :meth:`WaterfallProgram.structure` arguments:
    counts, the step table, and each item's kind (fee basis, account target form, trigger
    metric, direction and curability); numbers stay run-time arguments."""
    (dcf, ios, fee_rate, fee_amount, fee_basis, acct_fixed, acct_amount, acct_pct, acct_basis, acct_floor,
     acct_keep, trig_metric, trig_below, trig_curable, trig_threshold, op, arg, mem_ptr, members, cov_ptr,
     cov_acct, wd_order, oc_params, call_pct, call_open, call_trigger, orig_pool, wd_accounts, principal_phase, floor,
     locked, ad_of, is_z, io_ref, strike, step_acc, senior, eod_trig, eod_oc, hx_kind, hx_ref, hx_notional, hx_rate,
     hx_dcf, step_when, step_unless, mem_group) = structure
    ints = lambda x: tuple(int(v) for v in x.ravel())  # noqa: E731
    return (dcf.shape[1], fee_rate.size, acct_fixed.size, trig_metric.size,
            ints(fee_basis), ints(acct_fixed), ints(acct_basis), ints(acct_keep),
            ints(trig_metric), ints(trig_below), ints(trig_curable),
            ints(op), tuple(map(tuple, arg.astype(int).tolist())), ints(mem_ptr), ints(members), ints(cov_ptr),
            ints(cov_acct), ints(wd_order), bool(call_pct >= 0.0 or call_trigger >= 0 or call_open.any()),
            int(wd_accounts), int(principal_phase),
            ints(floor.any(axis=0)), ints(locked.any(axis=0)), ints(ad_of), ints(is_z), ints(io_ref),
            ints(strike >= 0.0), ints(step_acc), ints(senior), ints(eod_trig), bool(eod_oc > 0.0), ints(hx_kind),
            ints(hx_ref), ints(step_when), ints(step_unless), ints(mem_group), int(call_trigger))


UNROLL = 8  # pools of at most this many loans are written out loan by loan (the loop vectorizes)


class _Writer:
    """Lines of generated code; cells of the flat state array ``S`` at the rows of
    :func:`abs_engine.kernels.state.layout`."""

    def __init__(self, pool: tuple, key: tuple, indent: int):
        n_cls, cls = pool
        n_notes, n_fees, n_acct, n_trig = key[:4]
        n_hx = len(key[31])
        self.lines: list[str] = []
        self.pad = " " * indent
        (r_loan, r_cls, r_cf, r_bal, r_short, r_coupon, r_run, r_arrears, r_acct, r_breached, r_hxu, r_hxb,
         self.n_rows, *p) = KST.layout.py_func(len(cls), n_cls, n_notes, n_fees, n_acct, n_trig, len(key[11]), n_hx)
        self.params = p
        self.r_loan, self.r_cls = r_loan, r_cls
        rows = {"exercise": KST.R_EXERCISE, "in_end": KST.R_IN_END, "in_beg": KST.R_IN_BEG, "in_ic": KST.R_IN_IC,
                "in_pc": KST.R_IN_PC, "in_loss": KST.R_IN_LOSS, "called": KST.R_CALLED, "residual": KST.R_RESIDUAL,
                "cum_loss": KST.R_CUM_LOSS, "delinq": KST.R_DELINQ, "done": KST.R_DONE, "sev": KST.R_SEV,
                "pool_loss": KST.R_POOL_LOSS, "wac": KST.R_WAC, "accel": KST.R_ACCEL}
        for k, c in enumerate(cls):
            base = r_loan + KST.N_LOAN_ROWS * k
            rows |= {f"w{k}": base + KST.L_W, f"f{k}": base + KST.L_F, f"ndj{k}": base + KST.L_ND_J,
                     f"normj{k}": base + KST.L_NORM_J, f"nd{k}": base + KST.L_ND, f"norm{k}": base + KST.L_NORM,
                     f"smm{k}": r_cls + 2 * c, f"mdr{k}": r_cls + 2 * c + 1}
        for t in range(n_notes):
            rows |= {f"cf{t}": r_cf + t, f"bal{t}": r_bal + t, f"short{t}": r_short + t, f"coupon{t}": r_coupon + t}
            rows |= {f"run{t}_{c}": r_run + KST.N_RUN * t + c for c in range(KST.N_RUN)}
        rows |= {f"arrears{f}": r_arrears + f for f in range(n_fees)}
        rows |= {f"acct{a}": r_acct + a for a in range(n_acct)}
        rows |= {f"breached{g}": r_breached + g for g in range(n_trig)}
        rows |= {f"hxrate{x}": r_coupon + n_notes + x for x in range(n_hx)}
        rows |= {f"hxunpaid{x}": r_hxu + x for x in range(n_hx)}
        rows |= {f"hxdrawn{x}": r_hxb + x for x in range(n_hx)}
        self.rows = rows
        self.used: set[str] = set()

    def s(self, name: str) -> str:
        """The lane's cell of state row ``name``, at a named offset (:func:`_offsets`)."""
        self.used.add(name)
        return f"S[{name.upper()} + l]"

    def __call__(self, line: str) -> None:
        self.lines.append(self.pad + line)


_ROW_MEANING = {
    "exercise": "the scenario's call election", "in_end": "pool ending balance (as the waterfall sees it)",
    "in_beg": "pool beginning balance", "in_ic": "interest collections", "in_pc": "principal collections",
    "in_loss": "the month's loss", "called": "1 once the clean-up call is exercised", "residual": "residual paid, "
    "summed", "cum_loss": "cumulative loss", "delinq": "60+ delinquency", "done": "1 once the deal has retired",
    "sev": "the month's severity", "pool_loss": "pool loss, summed", "wac": "the beginning pool's net coupon",
    "accel": "1 once the deal is accelerated",
    "w": "loan {0}: performing weight", "f": "loan {0}: foreclosure weight", "ndj": "loan {0}: new defaults of "
    "lag months ago", "normj": "loan {0}: those / scheduled fraction", "nd": "loan {0}: this month's new defaults",
    "norm": "loan {0}: those / scheduled fraction", "smm": "loan {0}: its rate class's SMM",
    "mdr": "loan {0}: its rate class's MDR", "cf": "note {0}: cash flow per 100 of face", "bal": "note {0}: balance",
    "short": "note {0}: interest shortfall", "coupon": "note {0}: this period's coupon", "arrears": "fee {0}: arrears",
    "acct": "account {0}: balance", "breached": "trigger {0}: breached (0/1)",
    "hxrate": "instrument {0}: this period's rate (a hedge's index)", "hxunpaid": "instrument {0}: unpaid, carried",
    "hxdrawn": "instrument {0}: drawn balance (a facility's)",
    "run": "note {0}: {1}",
}
_RUN_MEANING = ("principal paid, summed", "period x principal paid, summed", "interest paid, summed",
                "writedown, summed", "first period with principal", "last period with principal")


def _offsets(rows: dict[str, int], used: set[str]) -> str:
    """The named offsets of the state cells a generated period uses: ``NAME = row * SB``, each
    with what it holds."""
    out = []
    for name in sorted(used, key=lambda n: rows[n]):
        stem, *nums = re.fullmatch(r"([a-z_]+?)(\d+)?(?:_(\d+))?", name).groups()
        if stem == "run":
            nums[1] = _RUN_MEANING[int(nums[1])]
        meaning = _ROW_MEANING[stem].format(*[x for x in nums if x is not None])
        out.append(f"{name.upper()} = {rows[name] * SB}  # row {rows[name]}: {meaning}")
    return "\n".join(out)


# the month's pool flows, in the column order of abs_engine.kernels.collateral
_FLOW = ("f_sched", "f_prepay", "f_default", "f_recovery", "f_loss", "f_gross", "f_net", "f_perf", "f_fcl",
         "f_amortized")


def _pool_month(pool: tuple, w: _Writer, strips: bool) -> None:
    """One month of the pool in lane ``l``: each loan's :func:`abs_engine.kernels.collateral.month_step`
    (a loan past its maturity is left as it is and adds nothing), flows added in loan order as
    the projection kernels add them, then the waterfall's view of them (as
    :func:`abs_engine.engine.waterfall.pool_inputs`). Pools of more than ``UNROLL`` loans loop over
    their loans (scalar); smaller ones are written out, so the lane loop vectorizes."""
    n_cls, cls = pool
    s = w.s
    w("# the pool's month: each loan's month_step, its flows summed in loan order")
    for c in range(NCOL):
        w(f"{_FLOW[c]} = 0.0")
    if strips:
        w("# the beginning pool's net coupon, for WAC interest-only strips")
        w("wn = 0.0")
        w("wd = 0.0")
        if len(cls) <= UNROLL:
            for k in range(len(cls)):
                w(f"wn += net{k} * {s(f'w{k}')}")
                w(f"wd += {s(f'w{k}')}")
        else:
            w("for k in range(N_LOANS):")
            w(f"    wk = S[(R_LOAN + {KST.N_LOAN_ROWS} * k + {KST.L_W}) * SB + l]")
            w(f"    wn += P[{w.params[0]} + {KST.N_LOAN_PARAMS} * k + 4] * wk")
            w("    wd += wk")
        w(f"{s('wac')} = net_coupon(12.0 * wn, wd)")
    if len(cls) <= UNROLL:
        loans = [(str(k), {x: s(f"{x}{k}") for x in ("w", "f", "ndj", "normj", "nd", "norm", "smm", "mdr")},
                  {x: f"{x}{k}" for x in ("sched", "dec", "growth", "gross", "net", "mat", "live")})
                 for k in range(len(cls))]
    else:
        w("for k in range(N_LOANS):")
        w.pad += "    "
        q = f"{w.params[0]} + {KST.N_LOAN_PARAMS} * k"
        w(f"mat_k = int(P[{q} + 5])")
        cells = {x: f"S[(R_LOAN + {KST.N_LOAN_ROWS} * k + {j}) * SB + l]"
                 for x, j in (("w", KST.L_W), ("f", KST.L_F), ("ndj", KST.L_ND_J), ("normj", KST.L_NORM_J),
                              ("nd", KST.L_ND), ("norm", KST.L_NORM))}
        cells |= {"smm": "S[(R_CLS + 2 * CLS[k]) * SB + l]", "mdr": "S[(R_CLS + 2 * CLS[k] + 1) * SB + l]"}
        loans = [("k", cells, {"sched": f"P[{q}]", "dec": f"P[{q} + 1]", "growth": f"P[{q} + 2]",
                               "gross": f"P[{q} + 3]", "net": f"P[{q} + 4]", "mat": "mat_k", "live": "m1 <= mat_k"})]
    for _, c, v in loans:
        w(f"r = month_step(m1, {v['mat']}, lag, adv, {c['smm']}, {c['mdr']}, {s('sev')}, {c['w']}, {v['sched']}, "
          f"{v['dec']}, {v['growth']}, {c['f']}, {v['gross']}, {v['net']}, {c['ndj']}, {c['normj']})")
        w(f"alive = {v['live']}")
        w(f"{c['w']} = r[0] if alive else {c['w']}")
        w(f"{c['f']} = r[3] if alive else {c['f']}")
        w(f"{c['nd']} = r[4]")
        w(f"{c['norm']} = r[5]")
        for col in range(NCOL):
            w(f"{_FLOW[col]} += r[{6 + col}] if alive else 0.0")
    if len(cls) > UNROLL:
        w.pad = w.pad[:-4]
    w("# the waterfall's view of the month's flows (as abs_engine.engine.waterfall.pool_inputs)")
    w(f"end = {_FLOW[PERF]} + {_FLOW[FCL]}")
    w(f"{s('in_beg')} = {s('in_end')}")
    w(f"{s('in_ic')} = {_FLOW[NET]}")
    w(f"{s('in_pc')} = {_FLOW[SCHED]} + {_FLOW[PREPAY]} + {_FLOW[RECOVERY]}")
    w(f"{s('in_loss')} = {_FLOW[LOSS]}")
    w(f"{s('in_end')} = end")
    w(f"{s('pool_loss')} += {_FLOW[LOSS]}")


_OP_NAMES = {KW.OP_FEES: "fees", KW.OP_INTEREST: "interest", KW.OP_PRINCIPAL: "principal",
             KW.OP_RESERVE: "reserve", KW.OP_RESIDUAL: "residual", KW.OP_ACCRETION: "accretion",
             KW.OP_HEDGE: "net payment", KW.OP_FAC_INTEREST: "interest", KW.OP_FAC_REPAY: "repayment"}
# the steps that pay amounts due (and are paid again before the residual): their rows of what is left
_DUES = {KW.OP_FEES: ("fleft", "fees"), KW.OP_INTEREST: ("ileft", "notes"), KW.OP_HEDGE: ("hxleft", "swap"),
         KW.OP_FAC_INTEREST: ("hxleft", "facility")}
_AMOUNT_NAMES = {KW.AMOUNT_COLLECTIONS: "principal collections", KW.AMOUNT_OC_TARGET: "the OC target",
                 KW.AMOUNT_AVAILABLE: "what is available", KW.AMOUNT_ACCRETION: "the accretion moved"}


def _lane_body(key: tuple, w: _Writer) -> None:
    """One period of lane ``l``: :func:`abs_engine.kernels.waterfall.interpret`'s sequence of
    :mod:`abs_engine.kernels.ops` calls, unrolled for the structure ``key``."""
    (n_notes, n_fees, n_acct, n_trig, fee_basis, acct_fixed, acct_basis, acct_keep, trig_metric, trig_below,
     trig_curable, op, arg, mem_ptr, members, cov_ptr, cov_acct, wd_order, has_call, wd_accounts,
     principal_phase, planned, lockable, ad_of, is_z, io_ref, stripped, step_acc, senior, eod_trig, eod_oc,
     hx_kind, hx_ref, step_when, step_unless, mem_group, call_trigger) = key
    has_z = any(is_z)
    n_hx = len(hx_kind)
    has_accel = any(step_acc)  # a post-acceleration priority: each step applies in lanes of its priority

    def applies(k: int) -> str | None:
        """Where step ``k`` applies (a lane of its priority, its ``when`` trigger breached and its
        ``unless`` trigger not), or None: everywhere."""
        parts = [f"ACCELERATED == {float(step_acc[k])}"] if has_accel else []
        if step_when[k] >= 0:
            parts.append(f"{brk[step_when[k]]} > 0.0")
        if step_unless[k] >= 0:
            parts.append(f"not {brk[step_unless[k]]} > 0.0")
        return " and ".join(parts) or None

    def gated(x: str, k: int) -> str:
        """``x`` where step ``k`` applies, else 0 (:func:`~abs_engine.kernels.ops.gate`)."""
        where = applies(k)
        return x if where is None else f"gate({x}, {where})"
    s = w.s
    bal = [s(f"bal{t}") for t in range(n_notes)]
    acct = [s(f"acct{a}") for a in range(n_acct)]
    brk = [s(f"breached{g}") for g in range(n_trig)]
    w("# collections (nothing after a clean-up call) and the call itself")
    w(f"live = 1.0 - {s('called')}")
    w(f"IC = {s('in_ic')} * live")
    w(f"PC = {s('in_pc')} * live")
    w(f"PLOSS = {s('in_loss')} * live")
    w(f"PEND = {s('in_end')} * live")
    w(f"POOLBEG = {s('in_beg')} * live")
    w(f"{s('cum_loss')} += PLOSS")
    w("PROCEEDS = 0.0")
    if has_call:
        opened = f"call_open or {brk[call_trigger]} > 0.0" if call_trigger >= 0 else "call_open"
        w(f"go = call_exercised({s('called')}, {s('exercise')}, PEND, call_level, {opened})")
        w("PROCEEDS = PEND if go else 0.0")
        w("PEND = 0.0 if go else PEND")
        w(f"{s('called')} = 1.0 if go else {s('called')}")
    w("# amounts due: each note's interest, then each fee")
    w("TOT = 0.0")
    for t in range(n_notes):
        w(f"nbeg{t} = {bal[t]}")
    if has_z:
        w("ACC = 0.0")
    for z in range(n_notes):
        if is_z[z]:
            on = " or ".join(f"nbeg{a} > 0.0" for a in range(n_notes) if ad_of[a] == z)
            w(f"accruing{z} = {on}  # Z class {z} accrues while a class it is directed to is outstanding")
    for t in range(n_notes):
        if io_ref[t] != -2:  # an interest-only class: its coupon (or a WAC strip's rate) on its notional
            base = "POOLBEG" if io_ref[t] == -1 else f"nbeg{io_ref[t]}"
            cpn = f"strip_rate({s('wac')}, strike{t})" if stripped[t] else s(f"coupon{t}")
            w(f"idue{t} = interest_due({base}, coupon_paid({cpn}, False), dcf{t}, {s(f'short{t}')}, ios{t})")
        elif is_z[t]:
            w(f"acc{t} = accretion(nbeg{t}, {s(f'coupon{t}')}, dcf{t}, accruing{t})")
            w(f"idue{t} = interest_due(nbeg{t}, coupon_paid({s(f'coupon{t}')}, accruing{t}), dcf{t}, "
              f"{s(f'short{t}')}, ios{t})")
            w(f"{bal[t]} = nbeg{t} + acc{t}")
        else:
            w(f"idue{t} = interest_due({bal[t]}, {s(f'coupon{t}')}, dcf{t}, {s(f'short{t}')}, ios{t})")
        w(f"ileft{t} = idue{t}")
        w(f"TOT += idue{t}")
    w("NBSUM = 0.0")
    for t in range(n_notes):
        w(f"NBSUM += nbeg{t}")
    for f in range(n_fees):
        w(f"fdue{f} = fee_due(fee_rate{f}, fee_base({fee_basis[f]}, POOLBEG, orig_pool, NBSUM, IC), fee_amount{f}, "
          f"POOLBEG, {s(f'arrears{f}')})")
        w(f"fleft{f} = fdue{f}")
        w(f"TOT += fdue{f}")
    if n_hx:
        w("# hedges (while there is a pool) and facilities: what each is due, what the hedges pay the deal")
        w("HREC = 0.0")
    for x in range(n_hx):
        if hx_kind[x] == KST.HX_FACILITY:
            w(f"hxdue{x} = interest_due({s(f'hxdrawn{x}')}, {s(f'hxrate{x}')}, hx_dcf{x}, {s(f'hxunpaid{x}')}, 0.0)")
            w("rec = hedge_receipt(0.0)")
        else:
            notional = f"hx_notional{x}" if hx_ref[x] < 0 else f"nbeg{hx_ref[x]}"
            w(f"net = gate(hedge_net({hx_kind[x] == KST.HX_CAP}, {notional}, hx_rate{x}, {s(f'hxrate{x}')}, "
              f"hx_dcf{x}), POOLBEG > 0.0)")
            w(f"hxdue{x} = hedge_due(net, {s(f'hxunpaid{x}')})")
            w("rec = hedge_receipt(net)")
        w(f"hxleft{x} = hxdue{x}")
        w("HREC += rec")
    if n_trig:
        w("# triggers, on values that include this period")
    for g in range(n_trig):
        w(f"v = trigger_value({trig_metric[g]}, {s('cum_loss')}, orig_pool, PEND, NBSUM, {s('delinq')}, IC, TOT)")
        w(f"{brk[g]} = trigger_breached(v, thr{g}, {bool(trig_below[g])}, {trig_curable[g]}, {brk[g]})")
    if has_accel:
        w(f"ACCELERATED = {s('accel')}  # 1: the post-acceleration priority applies (one pot)")
    top = "(IC + HREC)" if n_hx else "IC"  # hedge receipts join interest collections at the top
    if principal_phase < 0:
        w(f"AVAIL = {top} + (PC + PROCEEDS)" if n_hx else "AVAIL = IC + PC + PROCEEDS")
    else:
        w(f"AVAIL = {top} + (PC + PROCEEDS if ACCELERATED > 0.0 else 0.0)" if has_accel else f"AVAIL = {top}")
    w("PAIDP = 0.0")
    w("RESID = 0.0")
    for t in range(n_notes):
        w(f"prin{t} = 0.0")

    def seen(x: str, m: int) -> str:
        """A member's balance as a principal step sees it (0 while locked out, for a class with a lockout)."""
        return f"unlocked({x}, lock{m})" if lockable[m] else x

    def take(left: str, lo: int, hi: int, k: int) -> None:
        w("NEED = 0.0")
        for j in range(lo, hi):
            w(f"NEED += {left}{members[j]}")
        if applies(k):
            w(f"NEED = {gated('NEED', k)}")
        w("GOT, AVAIL = pay(NEED, AVAIL)")

    def draw(k: int) -> None:
        for j in range(cov_ptr[k], cov_ptr[k + 1]):
            a = cov_acct[j]
            if a >= n_acct:  # a facility drawn for the shortfall, up to its commitment less its drawn balance
                x = a - n_acct
                w(f"d = draw(NEED, GOT, hx_notional{x} - {s(f'hxdrawn{x}')})  # facility {x} is drawn")
                w(f"{s(f'hxdrawn{x}')} += d")
                w("GOT += d")
                continue
            w(f"d = draw(NEED, GOT, {acct[a]})  # account {a} covers the shortfall")
            w(f"{acct[a]} -= d")
            w("GOT += d")

    def settle(left: str, lo: int, hi: int) -> None:
        for j in range(lo, hi):
            x = f"{left}{members[j]}"
            w(f"{x} = settle_one({x}, GOT)" if hi - lo == 1 else f"{x} = settle({x}, GOT, NEED)")

    def account_target(a: int) -> None:
        """``target``: account ``a``'s target this period, as the interpreter's ``_account_target``."""
        w("NOW = 0.0")
        for t in range(n_notes):
            w(f"NOW += {bal[t]}")
        base = "PEND" if acct_basis[a] == KO.BASIS_POOL else "orig_pool"
        w(f"target = reserve_target({bool(acct_fixed[a])}, acct_amount{a}, acct_pct{a}, {base}, acct_floor{a}, "
          f"{acct_keep[a]}, NOW)")

    def leftover(cash: str, lo: int, hi: int) -> None:
        """The cash left in ``cash`` paid to members ``lo..hi`` in order, each up to its balance."""
        for j in range(lo, hi):
            m = members[j]
            w(f"p = principal_pay({cash}, {cash}, True, {seen(bal[m], m)})")
            w(f"{bal[m]} -= p")
            w(f"prin{m} += p")
            w(f"{cash} = {cash} - p")

    def groups(lo: int, hi: int, within: int) -> None:
        """Bond groups, as :func:`abs_engine.kernels.waterfall._groups`: each group's allotment, then
        its classes' payments."""
        starts = [j for j in range(lo, hi) if j == lo or mem_group[j] != mem_group[j - 1]] + [hi]
        for g_lo, g_hi in zip(starts[:-1], starts[1:], strict=True):
            w(f"# bond group {mem_group[g_lo]}: {[int(m) for m in members[g_lo:g_hi]]}")
            w("GBEG = 0.0")
            w("GBAL = 0.0")
            for j in range(g_lo, g_hi):
                w(f"GBEG += {seen(f'nbeg{members[j]}', members[j])}")
                w(f"GBAL += {seen(bal[members[j]], members[j])}")
            w("a = principal_pay(REM, pro_rata_share(GOT, GBEG, TOTB), SEQ, GBAL)")
            w("GLEFT = a")
            w("REM = REM - a")
            for j in range(g_lo, g_hi):
                m = members[j]
                w(f"p = principal_pay(GLEFT, pro_rata_share(a, {seen(f'nbeg{m}', m)}, GBEG), {within == 0}, "
                  f"{seen(bal[m], m)})")
                w(f"{bal[m]} -= p")
                w(f"prin{m} += p")
                w("GLEFT = GLEFT - p")
            if within != 0:
                leftover("GLEFT", g_lo, g_hi)
            w("REM += GLEFT")

    for k, o in enumerate(op):
        if k == principal_phase:
            w("# the principal priority: principal collections, call proceeds (and accretion) join what is left")
            more = "PC + PROCEEDS + ACC" if has_z else "PC + PROCEEDS"
            w(f"AVAIL += gate({more}, ACCELERATED == 0.0)" if has_accel else f"AVAIL += {more}")
        lo, hi = mem_ptr[k], mem_ptr[k + 1]
        items = [int(m) for m in members[lo:hi]]
        if o in _DUES:
            w(f"# step {k}: {_OP_NAMES[o]} of {_DUES[o][1]} {items}, pro rata")
            left = _DUES[o][0]
            take(left, lo, hi, k)
            draw(k)
            settle(left, lo, hi)
        elif o == KW.OP_FAC_REPAY:
            x = items[0]
            w(f"# step {k}: repay facility {x}'s drawn balance")
            need = gated(s(f"hxdrawn{x}"), k)
            w(f"GOT, AVAIL = pay({need}, AVAIL)")
            w(f"{s(f'hxdrawn{x}')} -= GOT")
        elif o == KW.OP_PRINCIPAL:
            kind, always_seq, switch, within = arg[k][0], arg[k][1] == 0, arg[k][2], arg[k][3]
            how = "sequential" if always_seq else ("pro rata" if switch < 0 else f"pro rata, sequential if "
                                                                                 f"trigger {switch} is breached")
            w(f"# step {k}: principal to notes {items} ({how}), up to {_AMOUNT_NAMES[kind]}")
            w("GRP = 0.0")
            w("TOTB = 0.0")
            for j in range(lo, hi):
                w(f"GRP += {seen(bal[members[j]], members[j])}")
                w(f"TOTB += {seen(f'nbeg{members[j]}', members[j])}")
            if kind == KW.AMOUNT_COLLECTIONS:
                w("cap = PC + PROCEEDS + ACC" if has_z else "cap = PC + PROCEEDS")
            elif kind == KW.AMOUNT_ACCRETION:
                w("cap = ACC")
            elif kind == KW.AMOUNT_OC_TARGET:  # the target's percentage, as waterfall._oc_pda chooses it
                if n_trig:
                    w(f"blocked = {s('breached0')} if oc_blocker == 0 else 0.0")
                    for g in range(1, n_trig):
                        w(f"blocked = {brk[g]} if oc_blocker == {g} else blocked")
                    w("p = oc_step_pct if oc_stepped and (oc_blocker < 0 or blocked == 0.0) else oc_pct")
                else:
                    w("p = oc_step_pct if oc_stepped else oc_pct")
                w("cap = oc_principal(p, orig_pool if oc_original else PEND, oc_floor, NBSUM, PEND)")
            else:
                w("cap = np.inf")
            need = f"principal_need(cap, PAIDP, above_plan(GRP, planned{k}))" if planned[k] else \
                "principal_need(cap, PAIDP, GRP)"
            w(f"NEED = {gated(need, k)}")
            w("GOT, AVAIL = pay(NEED, AVAIL)")
            if always_seq:
                w("SEQ = True")
            elif switch >= 0:
                w(f"SEQ = {brk[switch]} > 0.0")
            else:
                w("SEQ = False")
            draw(k)
            w("PAIDP += GOT")
            w("REM = GOT")
            if within >= 0:
                groups(lo, hi, within)
            for j in range(lo, hi if within < 0 else lo):  # sequential, or pro rata by beginning balances
                m = members[j]
                w(f"p = principal_pay(REM, pro_rata_share(GOT, {seen(f'nbeg{m}', m)}, TOTB), SEQ, {seen(bal[m], m)})")
                w(f"{bal[m]} -= p")
                w(f"prin{m} += p")
                w("REM = REM - p")
            w("# what the caps left over, in priority order")
            leftover("REM", lo, hi)
        elif o == KW.OP_ACCRETION:
            z, now = arg[k][0], arg[k][1]
            w(f"# step {k}: Z class {z}'s accretion, from the funds available to principal funds")
            due = gated(f"acc{z}", k)
            w(f"GOT, AVAIL = pay({due}, AVAIL)")
            if now:
                w("AVAIL = AVAIL + GOT  # (in the principal priority: available at once)")
            w("ACC += GOT")
        elif o == KW.OP_RESERVE:
            a = arg[k][0]
            w(f"# step {k}: reserve account {a} to its target")
            account_target(a)
            w(f"x = {acct[a]}")
            w("dep, rel = reserve_move(x, target, AVAIL)")
            if applies(k):
                w(f"dep, rel = {gated('dep', k)}, {gated('rel', k)}")
            w(f"{acct[a]} = x + dep - rel")
            w("AVAIL += rel - dep")
        elif o == KW.OP_TRANSFER:
            a, b, everything = arg[k][0], arg[k][1], arg[k][2]
            w(f"# step {k}: transfer from account {a} to account {b}")
            account_target(b)
            w(f"x = {gated(f'transfer_amount({acct[a]}, target, {acct[b]}, {bool(everything)})', k)}")
            w(f"{acct[a]} -= x")
            w(f"{acct[b]} += x")
        else:
            w(f"# step {k}: residual, after any fee or interest still unpaid, in step order")
            for kk in range(k):
                if op[kk] in _DUES and step_acc[kk] == step_acc[k]:
                    left = _DUES[op[kk]][0]
                    take(left, mem_ptr[kk], mem_ptr[kk + 1], k)  # (where the residual applies)
                    settle(left, mem_ptr[kk], mem_ptr[kk + 1])
            w(f"rest = {gated('AVAIL', k)}")
            w("RESID += rest")
            w("AVAIL -= rest")
    w("NOW = 0.0")
    for t in range(n_notes):
        w(f"NOW += {bal[t]}")
    if has_accel:
        w("# events of default: the post-acceleration priority from the next period on, for good")
        w("EOD = False")
        for t in range(n_notes):
            if senior[t]:
                w(f"EOD = EOD or carry(ileft{t}) > 0.0")
        if eod_oc:
            w("EOD = EOD or oc_event(PEND, NOW, eod_oc)")
        for g in range(n_trig):
            if eod_trig[g]:
                w(f"EOD = EOD or {brk[g]} > 0.0")
        w(f"{s('accel')} = 1.0 if EOD else {s('accel')}")
    w("# writedowns in reverse priority, then what carries forward")
    if wd_accounts == KST.WD_POOL_AND_ACCOUNTS:
        w("GRP = 0.0")
        for a in range(n_acct):
            w(f"GRP += {acct[a]}")
        w("REM = uncovered(NOW, PEND + GRP)")
    elif wd_accounts == KST.WD_NONE:
        w("REM = 0.0  # the deal writes nothing down")
    else:
        w("REM = uncovered(NOW, PEND + 0.0)")
    for t in wd_order:
        w(f"wd{t}, {bal[t]}, REM = writedown(REM, {bal[t]})")
    for t in range(n_notes):
        w(f"{s(f'short{t}')} = carry(ileft{t})")
    for f in range(n_fees):
        w(f"{s(f'arrears{f}')} = carry(fleft{f})")
    for x in range(n_hx):
        w(f"{s(f'hxunpaid{x}')} = carry(hxleft{x})")
    w("# running sums: principal, period-weighted principal, interest, writedown, first and last period")
    # running sums: principal, period-weighted principal, interest, writedown, first, last
    w(f"{s('residual')} += RESID")
    for t in range(n_notes):
        w(f"paid = idue{t} - ileft{t}")
        w(f"{s(f'run{t}_0')} += prin{t}")
        w(f"{s(f'run{t}_1')} += m1f * prin{t}")
        w(f"{s(f'run{t}_2')} += paid")
        w(f"{s(f'run{t}_3')} += wd{t}")
        w(f"{s(f'run{t}_4')} = m1f if prin{t} > 0.0 and {s(f'run{t}_4')} == 0.0 else {s(f'run{t}_4')}")
        w(f"{s(f'run{t}_5')} = m1f if prin{t} > 0.0 else {s(f'run{t}_5')}")
        w(f"{s(f'cf{t}')} = (paid + prin{t}) * per_face{t}")
    # retired: no pool left (or called), no note or account balance, so nothing more can move
    done = f"(not {s('in_end')} > 0.0 or {s('called')} > 0.0)"
    done += "".join(f" and not {bal[t]} > 0.0" for t in range(n_notes))
    done += "".join(f" and not {acct[a]} > 0.0" for a in range(n_acct))
    w(f"{s('done')} = 1.0 if {done} else 0.0")


_TEMPLATE = '''"""Generated by abs_engine.engine.codegen for one pool shape and waterfall structure; do not edit.

key: {key!r}
"""
import numpy as np
from numba import carray

from abs_engine.kernels._jit import period_cfunc
from abs_engine.kernels.collateral import month_step
from abs_engine.kernels.ops import (above_plan, accretion, call_exercised, carry, coupon_paid, draw, fee_base,
                                   fee_due, gate, hedge_due, hedge_net, hedge_receipt, interest_due, net_coupon,
                                   oc_event, oc_principal, pay, principal_need,
                                   principal_pay, pro_rata_share, reserve_move, reserve_target, settle, settle_one,
                                   strip_rate, transfer_amount, trigger_breached, trigger_value, uncovered, unlocked,
                                   writedown)

SB = {sb}
N_ROWS = {n_rows}
N_PARAMS = {n_params}
N_LOANS = {n_loans}
R_LOAN = {r_loan}
R_CLS = {r_cls}
CLS = {cls!r}

# state cells: lane l of row r is S[r * SB + l]
{offsets}


@period_cfunc
def period(s_ptr, p_ptr):
    """One month of the pool (unless ``P`` says it has run), then (unless ``P`` says the block's
    deals have retired) the waterfall's period, in every lane: state ``S[row * SB + lane]``, parameters ``P`` (the
    layout of abs_engine.kernels.state)."""
    S = carray(s_ptr, (N_ROWS * SB,))
    P = carray(p_ptr, (N_PARAMS,))
{params}
    if P[{pool_given}] == 0.0:  # (a payment after months whose collections were held: the pool has run)
        for l in range(SB):
{pool}
    if not waterfall:
        return
    for l in range(SB):
{body}
'''


@functools.lru_cache(maxsize=64)
def kernel_source(pool: tuple, key: tuple) -> str:
    """The Python source of the generated month for a pool shape ``(number of rate classes,
    each loan's class)`` and structure ``key`` (:func:`structure_key`)."""
    n_cls, cls = pool
    n_notes, n_fees, n_acct, n_trig = key[:4]
    w = _Writer(pool, key, 8)
    _lane_body(key, w)
    pm = _Writer(pool, key, 12)
    _pool_month(pool, pm, any(key[26]))
    (p_loan, p_ios, p_face, p_dcf, p_fee_rate, p_fee_amount, p_acct_amount, p_acct_pct, p_acct_floor, p_thr,
     p_floor, p_lock, p_strike, p_hx_notional, p_hx_rate, p_hx_dcf, n_params) = w.params
    planned, lockable = key[21:23]
    params = [f"call_level = P[{KST.P_CALL_LEVEL}]", f"orig_pool = P[{KST.P_ORIG_POOL}]", f"oc_pct = P[{KST.P_OC_PCT}]",
              f"oc_original = P[{KST.P_OC_ORIGINAL}] != 0.0", f"oc_floor = P[{KST.P_OC_FLOOR}]",
              f"oc_step_pct = P[{KST.P_OC_STEP_PCT}]", f"oc_blocker = int(P[{KST.P_OC_BLOCKER}])",
              f"oc_stepped = P[{KST.P_OC_STEPPED}] != 0.0", f"m1 = int(P[{KST.P_M1}])", "m1f = float(m1)",
              f"lag = int(P[{KST.P_LAG}])", f"adv = P[{KST.P_ADV}] != 0.0", f"waterfall = P[{KST.P_WATERFALL}] != 0.0",
              f"eod_oc = P[{KST.P_EOD_OC}]", f"call_open = P[{KST.P_CALL_OPEN}] != 0.0"]
    if len(cls) <= UNROLL:
        for k in range(len(cls)):
            q = p_loan + KST.N_LOAN_PARAMS * k
            params += [f"sched{k} = P[{q}]", f"dec{k} = P[{q + 1}]", f"growth{k} = P[{q + 2}]",
                       f"gross{k} = P[{q + 3}]", f"net{k} = P[{q + 4}]", f"mat{k} = int(P[{q + 5}])",
                       f"live{k} = m1 <= mat{k}"]
    for t in range(n_notes):
        params += [f"ios{t} = P[{p_ios + t}]", f"per_face{t} = P[{p_face + t}]", f"dcf{t} = P[{p_dcf + t}]"]
    for f in range(n_fees):
        params += [f"fee_rate{f} = P[{p_fee_rate + f}]", f"fee_amount{f} = P[{p_fee_amount + f}]"]
    for a in range(n_acct):
        params += [f"acct_amount{a} = P[{p_acct_amount + a}]", f"acct_pct{a} = P[{p_acct_pct + a}]",
                   f"acct_floor{a} = P[{p_acct_floor + a}]"]
    params += [f"thr{g} = P[{p_thr + g}]" for g in range(n_trig)]
    params += [f"planned{k} = P[{p_floor + k}]" for k in range(len(planned)) if planned[k]]
    params += [f"lock{t} = P[{p_lock + t}]" for t in range(n_notes) if lockable[t]]
    params += [f"strike{t} = P[{p_strike + t}]" for t in range(n_notes) if key[26][t]]
    for x in range(len(key[31])):
        params += [f"hx_notional{x} = P[{p_hx_notional + x}]", f"hx_rate{x} = P[{p_hx_rate + x}]",
                   f"hx_dcf{x} = P[{p_hx_dcf + x}]"]
    return _TEMPLATE.format(key=(pool, key), sb=SB, pool_given=KST.P_POOL_GIVEN,
                            n_rows=w.n_rows, n_params=n_params, n_loans=len(cls),
                            r_loan=w.r_loan, r_cls=w.r_cls, cls=tuple(cls) or (0,),
                            offsets=_offsets(w.rows, w.used | pm.used),
                            params="\n".join("    " + x for x in params), pool="\n".join(pm.lines),
                            body="\n".join(w.lines))


def cache_dir() -> Path:
    """Where generated kernels (and numba's cache of them) are kept: the first of
    ``$ABS_ENGINE_CACHE_DIR/kernels``, ``$XDG_CACHE_HOME/abs_engine/kernels`` and
    ``~/.cache/abs_engine/kernels`` that is private (created with mode 0700; used only when owned
    by this user with no group or other write access, on it and on its parent), else a fresh
    private temporary folder for this process. Code is imported from here, so no other local user
    may be able to write to it."""
    for base in (os.environ.get("ABS_ENGINE_CACHE_DIR"),
                 os.environ.get("XDG_CACHE_HOME") and Path(os.environ["XDG_CACHE_HOME"]) / "abs_engine",
                 Path.home() / ".cache" / "abs_engine"):
        if base:
            path = Path(base) / "kernels"
            try:
                for d in (path.parent, path):
                    d.mkdir(mode=0o700, exist_ok=True, parents=d == path.parent)
                if _private(path) and _private(path.parent) and os.access(path, os.W_OK):
                    return path
            except OSError:
                pass
    global _FALLBACK
    if _FALLBACK is None or not _FALLBACK.is_dir():
        _FALLBACK = Path(tempfile.mkdtemp(prefix="abs_engine-kernels-")) / "kernels"   # mkdtemp: mode 0700
        _FALLBACK.mkdir(mode=0o700)
    return _FALLBACK


_FALLBACK: Path | None = None


def _private(path: Path) -> bool:
    """Owned by this user, not a link, and writable by nobody else."""
    st = os.lstat(path)
    owner_ok = not hasattr(os, "getuid") or st.st_uid == os.getuid()
    return stat.S_ISDIR(st.st_mode) and owner_ok and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


@functools.cache
def _engine_digest() -> str:
    """A hash of the engine's code a generated month depends on (read once per process)."""
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    for name in ("state.py", "deal.py", "summaries.py", "collateral.py", "ops.py", "waterfall.py", "_jit.py"):
        h.update((_KERNELS / name).read_bytes())
    return h.hexdigest()


def summary_period(n_cls: int, cls, structure: tuple):
    """The compiled month of a pool (``n_cls`` rate classes, each loan's class ``cls``) and a
    waterfall structure (arguments of :meth:`abs_engine.compile.waterfall.WaterfallProgram.structure`),
    a C-callable function for :func:`abs_engine.kernels.deal.run_blocks`; generated,
    written and imported once per pool shape, structure and engine version."""
    source = kernel_source((int(n_cls), tuple(int(c) for c in cls)), structure_key(structure))
    name = "abs_engine_summaries_" + hashlib.sha256((_engine_digest() + source).encode()).hexdigest()[:20]
    with _LOCK:
        if name in _LOADED:
            return _LOADED[name]
        path = cache_dir() / f"{name}.py"
        announce_if_cold(KD.run_blocks, new=not path.exists())
        if not path.exists() or path.read_text() != source:
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(source)
            os.replace(tmp, path)  # whole file or none, when processes share the directory
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _LOADED[name] = module.period
        return module.period
