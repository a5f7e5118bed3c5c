"""Two parts of summary runs that full runs do not share (abs_engine.kernels.summaries):

* the yield search, every note of a block at once in the monthly discount factor, must give what
  abs_engine.results.analytics gives (BMA section G) on any cash flows, prices and payment delays,
  including cash flows with no yield in range (NaN);
* a block whose deals have retired stops once no later month can add to its pool loss; the pool
  loss must still be the full horizon's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import abs_engine as ae
from abs_engine.kernels import summaries as KS
from abs_engine.results import analytics as A

from ..results.test_scale_and_plots import assert_same_summaries

ROOT = Path(__file__).resolve().parents[2]
AUTO = ROOT / "tranches/auto_prime_abs.yaml"


@st.composite
def blocks(draw):
    """Cash flows ``[period, note, lane]`` per 100 of face (none negative; some lanes paid
    nothing, some far too little for any yield in range), a price per note and a delay."""
    n_per = draw(st.integers(1, 40))
    n_notes = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    cf = rng.uniform(0.0, 12.0, (n_per, n_notes, KS.SB)) * (rng.random((n_per, n_notes, KS.SB)) < 0.7)
    cf[:, :, rng.random(KS.SB) < 0.1] = 0.0                      # paid nothing
    cf[:, :, rng.random(KS.SB) < 0.1] *= 1e-3                     # no yield above -99%
    cf[-1, :, rng.random(KS.SB) < 0.5] += rng.uniform(50, 100)    # a bullet
    price = np.array(draw(st.lists(st.floats(1.0, 200.0), min_size=n_notes, max_size=n_notes)))
    delay = draw(st.sampled_from([0.0, 14.0, 24.5]))
    return cf, price, delay


@settings(max_examples=40, deadline=None)
@given(blocks())
def test_block_yields_equal_the_analytics_formulas(block):
    """Yield at a price and modified duration per note and lane: the kernel's Newton steps in
    x = (1 + y/2)^(-1/6) against abs_engine.results.analytics (Newton and bisection in y, with exp and
    log per cash flow). Both settle the price to 1e-12 of itself."""
    cf, price, delay = block
    n_per, n_notes, sb = cf.shape
    y = np.empty(n_notes * sb)
    md = np.empty(n_notes * sb)
    KS._yields(cf.ravel(), n_per, n_notes * sb, price, delay, y, md)
    items = np.moveaxis(cf, 0, -1).reshape(n_notes * sb, n_per)  # [note * SB + lane, period]
    p = np.repeat(price, sb)
    ref = A.yield_from_price(items, p, delay)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-9, equal_nan=True)
    ok = ~np.isnan(ref)
    np.testing.assert_allclose(md[ok], A.modified_duration(items[ok], ref[ok], delay), rtol=1e-8)
    assert np.isnan(md[~ok]).all()


def test_streams_newton_leaves_unsettled_are_bisected():
    """Two far-apart cash flows (100 now, 10^6 in 30 years) priced at 99, beside bullets,
    scattered and one-off flows: some lanes are still off the price after the Newton steps and
    are bisected, some have no yield; all as abs_engine.results.analytics."""
    n_per, rng = 360, np.random.default_rng(0)
    cf = np.zeros((n_per, 1, KS.SB))
    for lane in range(KS.SB):
        kind = lane % 4
        if kind == 0:
            cf[[0, -1], 0, lane] = 1e-6, 100.0
        elif kind == 1:
            cf[[0, -1], 0, lane] = 100.0, 1e6
        elif kind == 2:
            cf[:, 0, lane] = rng.uniform(0, 1, n_per) ** 8 * 50
        else:
            cf[rng.integers(0, n_per), 0, lane] = 10 ** rng.uniform(-3, 4)
    y, md = np.empty(KS.SB), np.empty(KS.SB)
    KS._yields(cf.ravel(), n_per, KS.SB, np.array([99.0]), 0.0, y, md)
    ref = A.yield_from_price(cf[:, 0, :].T, 99.0)
    assert np.isnan(ref).any() and not np.isnan(ref).all()
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-9, equal_nan=True)


def test_quiet_from_is_the_first_month_of_zero_mdr_everywhere():
    mdr = np.zeros((3, 6, 2))
    mdr[0, 4, 1] = 0.01  # class 1 defaults in month index 4
    mdr[1, :, 0] = 0.02  # defaults to the end
    assert KS.quiet_from(mdr).tolist() == [5, 6, 0]


@pytest.mark.parametrize("lag, advancing", [(0, False), (6, False), (6, True), (12, True)])
def test_a_retired_block_keeps_summing_its_pool_loss_until_none_can_come(lag, advancing):
    """The auto deal's clean-up call retires it while loans still default, and losses of defaults
    from before the call arrive up to ``lag`` months after it. Defaults that stop (a vector ending
    in 0), that never start, and that go on to the loans' end sit in one block; the pool loss
    equals the full run's over the whole horizon."""
    base = {"severity": 0.45, "recovery_lag": lag, "advancing": advancing, "rates": {"SOFR": 0.043}}
    deck = [{**base, "name": f"s{k}", "prepay": {"abs": a}, "default": {"cdr": d}}
            for k, (a, d) in enumerate([(1.3, [0.2] * 14 + [0.0]), (1.3, 0.0), (0.8, 0.05), (2.0, [0.0] * 20 + [0.3]),
                                        (1.0, [0.08] * 30 + [0.0])])]
    full = ae.run(AUTO, deck)
    retired = full.cash.reset_index().groupby("scenario", sort=False)["period"].max().to_numpy()  # tables end there
    late = [full.flows[j, retired[j]:, 4].sum() for j in range(len(deck))]
    assert max(late) > 0.0 and min(late) == 0.0  # loss after retirement in some scenario, none in another
    assert_same_summaries(ae.run(AUTO, deck, summary_only=True, progress=False), full)
