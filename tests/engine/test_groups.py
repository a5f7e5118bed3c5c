"""Several collateral groups (CONVENTIONS R2.12): the engine against the independent reference
in tests/oracles/groups.py (each group's pool from tests/oracles/collateral.py) on random deals
and scenarios; the rules by hand on given pool flows; conservation; the pool table's group level;
summaries equal to the full run; a group on a tape; one clear error for each bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import abs_engine as ae
from abs_engine.errors import SpecError
from abs_engine.kernels import groups as KG
from abs_engine.kernels import state as KST

from ..oracles import collateral as reference
from ..oracles import groups as oracle
from ..strategies import rep_lines, scenarios
from .test_collateral_oracle import _as_loans


@st.composite
def group_deals(draw):
    """2-3 groups of rep lines; per group 1-2 senior classes, 0-2 subordinate classes, a residual
    or not; note balances from 50% to 130% of the pool (so losses reach the seniors too)."""
    n_groups = draw(st.integers(2, 3))
    groups = [{"name": f"g{g + 1}", "rep_lines": draw(rep_lines(2))} for g in range(n_groups)]
    pools = [sum(ln["balance"] for ln in g["rep_lines"]) for g in groups]
    tranches, priority = [], 1
    coupon = st.one_of(st.just(0.0), st.floats(0.0, 0.15))
    for g, pool in enumerate(pools):
        k = draw(st.integers(1, 2))
        share = draw(st.floats(0.3, 1.0))
        for j in range(k):
            tranches.append({"name": f"A{g + 1}{j + 1}", "balance": pool * share / k, "coupon": draw(coupon),
                             "priority": priority + j, "group": f"g{g + 1}"})
    subs = draw(st.integers(0, 2))
    for j in range(subs):
        tranches.append({"name": f"M{j + 1}", "balance": sum(pools) * draw(st.floats(0.01, 0.3)),
                         "coupon": draw(coupon), "priority": 10 + j})
    if draw(st.booleans()):
        tranches.append({"name": "R", "residual": True})
    return {"name": "groups", "collateral": {"groups": groups}, "tranches": tranches}


def _classes(deal: dict) -> list[dict]:
    """The deal's notes for the reference, most senior first (priority, then listed order)."""
    names = [g["name"] for g in deal["collateral"]["groups"]]
    notes = [t for t in deal["tranches"] if not t.get("residual")]
    order = sorted(range(len(notes)), key=lambda k: (notes[k]["priority"], k))
    return [{"name": notes[k]["name"], "balance": notes[k]["balance"], "coupon": notes[k]["coupon"],
             "group": names.index(notes[k]["group"]) if "group" in notes[k] else None} for k in order]


@pytest.mark.filterwarnings("ignore::abs_engine.errors.SpecWarning")  # random notes of 50-130% of the pool
@given(group_deals(), scenarios())
def test_engine_matches_reference(deal, scen):
    res = ae.run(deal, scen)
    n = res.n_periods
    pools = [reference.project_pool(_as_loans(g["rep_lines"]), scen, n) for g in deal["collateral"]["groups"]]
    ref = oracle.run(_classes(deal), pools, n)
    scale = max(sum(ln["balance"] for ln in g["rep_lines"]) for g in deal["collateral"]["groups"])
    tol = dict(rtol=1e-9, atol=1e-8 * scale)
    for g, group in enumerate(deal["collateral"]["groups"]):  # the group level: each group's own pool
        mine = res.pool.xs(group["name"], level="group")
        for col in reference.COLS:
            np.testing.assert_allclose(mine[col].to_numpy(), pools[g][col], err_msg=f"{group['name']} {col}", **tol)
    tr = res.tranches
    for c in _classes(deal):
        mine = tr.xs(c["name"], level="tranche")
        for col, key in (("interest_paid", "interest"), ("principal_paid", "principal"), ("writedown", "writedown"),
                         ("ending_balance", "balance"), ("interest_shortfall", "shortfall")):
            np.testing.assert_allclose(mine[col].to_numpy(), ref[c["name"]][key], err_msg=f"{c['name']} {col}",
                                       **tol)
    np.testing.assert_allclose(res.cash["residual_paid"].to_numpy(), ref["residual"], **tol)
    if any(t.get("residual") for t in deal["tranches"]):
        np.testing.assert_allclose(tr.xs("R", level="tranche")["residual_paid"].to_numpy(), ref["residual"], **tol)
    # conservation every period: pool roll-forward, cash in = cash out, principal
    assert res.check().abs().to_numpy().max() <= 1e-8 * scale
    # the groups add up to the pool the deal sees
    total = res.pool.groupby(level="period")[["beginning_balance", "net_interest", "ending_balance"]].sum()
    np.testing.assert_allclose(total["ending_balance"].to_numpy(), res.cash["pool_balance_ending"].to_numpy(), **tol)
    np.testing.assert_allclose(total["net_interest"].to_numpy(), res.cash["interest_collections"].to_numpy(), **tol)


def _pay(int_coll, prin_coll, pool_end, balances, groups, coupons=None):
    """The kernel on given pool flows ``[period][group]`` (one scenario), 0% coupons unless given,
    every period's accrual 1/12: ``(tranches[period, note, TR_*], cash[period, C_*])``."""
    ic, pc, end = (np.asarray(x, dtype=np.float64)[None] for x in (int_coll, prin_coll, pool_end))
    n, notes = ic.shape[1], len(balances)
    rows = np.zeros((1, n, notes)) + (0.0 if coupons is None else np.asarray(coupons, dtype=np.float64))
    tr, cash = np.zeros((1, n, notes, KST.TR_COLS)), np.zeros((1, n, KST.CASH_COLS))
    KG.pay_groups(ic, pc, np.zeros_like(ic), end.copy(), end, rows, np.zeros(1, dtype=np.int64),
                  np.full((n, notes), 1.0 / 12.0), np.asarray(balances, dtype=np.float64),
                  np.asarray(groups, dtype=np.int64), np.arange(notes, dtype=np.int64), tr, cash)
    return tr[0], cash[0]


def test_interest_by_hand():
    """R2.12.2: A1 (group 1) is due 5, A2 (group 2) 4, M 3. Group 1 collects 10: A1 5, 5 pooled;
    group 2 collects 2: A2 2. The pool pays A2's other 2, then M 3; nothing is left."""
    coupons = [5 * 12 / 600, 4 * 12 / 480, 3 * 12 / 360]  # due = coupon/12 x balance
    tr, cash = _pay([[10.0, 2.0]], [[0.0, 0.0]], [[600.0, 480.0]], [600.0, 480.0, 360.0], [0, 1, -1], coupons)
    np.testing.assert_allclose(tr[0, :, KST.TR_PAID], [5.0, 4.0, 3.0], rtol=1e-14)
    assert cash[0, KST.C_RESIDUAL] == pytest.approx(0.0, abs=1e-12)
    # group 2 collects 1 only: A2 is paid 1 + 5 pooled = 4, M gets the pooled 2 left, 1 short
    tr, cash = _pay([[10.0, 1.0]], [[0.0, 0.0]], [[600.0, 480.0]], [600.0, 480.0, 360.0], [0, 1, -1], coupons)
    np.testing.assert_allclose(tr[0, :, KST.TR_PAID], [5.0, 4.0, 2.0], rtol=1e-14)
    np.testing.assert_allclose(tr[0, :, KST.TR_SHORT], [0.0, 0.0, 1.0], atol=1e-12)


def test_principal_crosses_groups_only_after_own_seniors_by_hand():
    """R2.12.3: group 1 collects 100, group 2 collects 30. Month 1: A1 (50 left) takes 50 of
    group 1's 100; group 2's 30 go to A2 (80): 50. Then group 1's other 50 pay A2 (step 2): 0.
    Nothing is left for M or the residual. Month 2: both seniors retired: each group's principal
    pays M (100 + 30), M has 70: the other 60 go to the residual."""
    tr, cash = _pay([[0.0, 0.0], [0.0, 0.0]], [[100.0, 30.0], [100.0, 30.0]], [[1e6, 1e6], [1e6, 1e6]],
                    [50.0, 80.0, 70.0], [0, 1, -1])
    np.testing.assert_allclose(tr[0, :, KST.TR_PRIN], [50.0, 80.0, 0.0])
    np.testing.assert_allclose(tr[1, :, KST.TR_PRIN], [0.0, 0.0, 70.0])
    np.testing.assert_allclose(cash[:, KST.C_RESIDUAL], [0.0, 60.0])


def test_losses_hit_the_subordinate_then_each_senior_above_its_own_pool_by_hand():
    """R2.12.4: notes 500 + 400 + 100 over pools 480 + 350 (excess 170): M loses its 100; only
    then A1 loses 500 - 480 = 20 and A2 400 - 350 = 50."""
    tr, cash = _pay([[0.0, 0.0]], [[0.0, 0.0]], [[480.0, 350.0]], [500.0, 400.0, 100.0], [0, 1, -1])
    np.testing.assert_allclose(tr[0, :, KST.TR_WD], [20.0, 50.0, 100.0])
    assert cash[0, KST.C_WRITEDOWN] == pytest.approx(170.0)
    # an excess M covers leaves the seniors whole, even above their own pool
    tr, _ = _pay([[0.0, 0.0]], [[0.0, 0.0]], [[480.0, 450.0]], [500.0, 400.0, 100.0], [0, 1, -1])
    np.testing.assert_allclose(tr[0, :, KST.TR_WD], [0.0, 0.0, 70.0])


TWO_GROUPS = {
    "name": "two groups",
    "collateral": {"groups": [
        {"name": "fixed30", "rep_lines": [{"balance": 6e6, "wac": 0.065, "net_coupon": 0.06, "wam": 360}]},
        {"name": "fixed15", "rep_lines": [{"balance": 4e6, "wac": 0.06, "net_coupon": 0.055, "wam": 180}]}]},
    "tranches": [{"name": "A1", "balance": 5.4e6, "coupon": 0.05, "priority": 1, "group": "fixed30"},
                 {"name": "A2", "balance": 3.6e6, "coupon": 0.045, "priority": 1, "group": "fixed15"},
                 {"name": "M", "balance": 1e6, "coupon": 0.06, "priority": 2}, {"name": "R", "residual": True}],
}


def test_summaries_equal_the_full_run():
    deck = [{"prepay": {"psa": p}, "default": {"sda": d}, "severity": 0.4, "recovery_lag": 6}
            for p in (100, 300) for d in (0, 400)]
    full = ae.run(TWO_GROUPS, deck).summary()
    summ = ae.run(TWO_GROUPS, deck, summary_only=True, chunk_size=3).summary()
    pd.testing.assert_frame_equal(summ, full)


def test_the_pool_table_has_a_group_level_and_delinquency_by_group():
    scen = {"prepay": {"cpr": 0.06}, "severity": 0.4, "recovery_lag": 4,
            "roll_rates": {"to_30": 0.02, "cure_30": 0.3, "cure_60": 0.2, "cure_90": 0.1, "stay_90": 0.6,
                           "default_90": 0.3}}
    res = ae.run(TWO_GROUPS, scen)
    assert res.pool.index.names == ["period", "group"]
    assert list(res.pool.index.get_level_values("group")[:2]) == ["fixed30", "fixed15"]
    assert {"delinquent_60", "delinquency_60_ratio"} <= set(res.pool.columns)
    assert res.pool.xs("fixed15", level="group")["ending_balance"].iloc[180:].abs().max() == 0.0
    assert res.check().abs().to_numpy().max() < 1e-6
    many = ae.run(TWO_GROUPS, [scen, {**scen, "prepay": {"psa": 200}}])
    assert many.pool.index.names == ["scenario", "period", "group"]


def test_a_group_on_a_tape(tmp_path):
    tape = pd.DataFrame({"loan_id": ["a", "b"], "balance": [3e6, 3e6], "rate": [0.065, 0.065],
                         "remaining_term": [360, 360], "age": [0, 0]})
    tape.to_csv(tmp_path / "g1.csv", index=False)
    deal = {**TWO_GROUPS, "collateral": {"groups": [
        {"name": "fixed30", "loan_tape": "g1.csv", "servicing_fee_rate": 0.005},
        TWO_GROUPS["collateral"]["groups"][1]]}}
    path = tmp_path / "deal.yaml"
    import yaml

    path.write_text(yaml.safe_dump(deal))
    scen = {"prepay": {"psa": 150}}
    on_tape = ae.run(str(path), scen)
    as_lines = ae.run(TWO_GROUPS, scen)
    pd.testing.assert_frame_equal(on_tape.tranches, as_lines.tranches, rtol=1e-12)


@pytest.mark.parametrize(("change", "field", "says"), [
    (lambda d: d["tranches"][0].update(group="g9"), "tranches[0].group", "a group defined in collateral.groups"),
    (lambda d: d["tranches"][1].pop("group"), "collateral.groups[1].name", "a group named by a tranche"),
    (lambda d: d.update(fees=[{"name": "f", "rate": 0.001}]), "fees", "none in a deal with collateral groups"),
    (lambda d: d.update(waterfall=[{"pay": "interest", "tranches": ["A1"]}]), "waterfall", "R2.12"),
    (lambda d: d.update(payment_frequency="quarterly"), "payment_frequency", "monthly"),
    (lambda d: d["collateral"]["groups"].pop(), "collateral.groups", "at least two groups"),
    (lambda d: d["collateral"]["groups"][1].update(name="fixed30"), "collateral.groups[1].name", "a name not used"),
    (lambda d: d["tranches"][3].update(group="fixed30"), "tranches[3].group", "no group for the residual"),
    (lambda d: d["tranches"][2].update(lockout=12), "tranches[2].lockout", "a plain class"),
    (lambda d: d["collateral"].update(reinvestment={"months": 6, "wac": 0.05, "term": 60}),
     "collateral.reinvestment", "no reinvestment"),
    (lambda d: d["collateral"]["groups"][0].update(loan_tape="x.csv"), "collateral.groups[0]", "exactly one of"),
])
def test_bad_inputs(change, field, says):
    deal = {**TWO_GROUPS, "collateral": {"groups": [dict(g) for g in TWO_GROUPS["collateral"]["groups"]]},
            "tranches": [dict(t) for t in TWO_GROUPS["tranches"]]}
    change(deal)
    with pytest.raises(SpecError) as err:
        ae.load_deal(deal)
    assert err.value.field.startswith(field) and says in str(err.value)


def test_a_group_on_a_deal_without_groups_and_what_is_not_built():
    with pytest.raises(SpecError, match="no group unless the collateral has groups"):
        ae.load_deal({"name": "one", "collateral": {"rep_lines": [{"balance": 1.0, "wac": 0.0, "wam": 1}]},
                      "tranches": [{"name": "A", "balance": 1.0, "priority": 1, "group": "g"}],
                      "waterfall": [{"pay": "principal", "tranches": ["A"]}]})
    with pytest.raises(SpecError, match="servicing collateral groups"):
        ae.Servicer(TWO_GROUPS, ":memory:")
    with pytest.raises(SpecError, match="a local run"):
        ae.run(TWO_GROUPS, {}, loan_level=True)


def test_each_groups_smm_is_its_own_loans_assumed_rate():
    """The pool table's ``smm`` per group is the scenario's rate at that group's own loan month (a
    PSA curve: groups of different ages prepay at different SMMs the same month)."""
    deal = {**TWO_GROUPS, "collateral": {"groups": [
        {"name": "fixed30", "rep_lines": [{"balance": 6e6, "wac": 0.065, "wam": 300, "age": 60}]},
        {"name": "fixed15", "rep_lines": [{"balance": 4e6, "wac": 0.06, "wam": 178, "age": 2}]}]}}
    pool = ae.run(deal, {"prepay": {"psa": 100}}).pool
    for name, age in (("fixed30", 60), ("fixed15", 2)):
        smm = pool.xs(name, level="group")["smm"].to_numpy()[:12]
        cpr = np.minimum(0.002 * (age + np.arange(1, 13)), 0.06)
        np.testing.assert_allclose(smm, 1 - (1 - cpr) ** (1 / 12), rtol=1e-12)
