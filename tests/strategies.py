"""hypothesis strategies for pools and scenarios (plain dicts, as a user would write them)."""

from __future__ import annotations

from hypothesis import strategies as st


def rep_lines(max_lines: int = 4):
    @st.composite
    def line(draw):
        wam = draw(st.integers(1, 480))
        age = draw(st.integers(0, 120))
        wac = draw(st.one_of(st.just(0.0), st.floats(0.0005, 0.25)))
        amort = draw(st.sampled_from(["level", "level", "interest_only", "balloon", "straight_line"]))
        out = {"balance": draw(st.floats(1e3, 1e8)), "wac": wac,
               "net_coupon": wac * draw(st.floats(0.5, 1.0)), "wam": wam, "age": age,
               "amortization": amort}
        if amort == "balloon":
            out["balloon_month"] = age + draw(st.integers(1, wam))
        return out

    return st.lists(line(), min_size=1, max_size=max_lines)


def rates(lo: float, hi: float, max_size: int = 40):
    """A number in ``[lo, hi]`` or a monthly vector of them."""
    one = st.floats(lo, hi)
    return st.one_of(one, st.lists(one, min_size=1, max_size=max_size))


def scenarios():
    prepay = st.one_of(
        st.builds(lambda v: {"cpr": v}, rates(0.0, 1.0)),
        st.builds(lambda v: {"smm": v}, rates(0.0, 0.2)),
        st.builds(lambda v: {"psa": v}, rates(0.0, 1500.0)),
        st.builds(lambda v: {"abs": v}, rates(0.0, 5.0)),
    )
    default = st.one_of(
        st.builds(lambda v: {"cdr": v}, rates(0.0, 0.5)),
        st.builds(lambda v: {"mdr": v}, rates(0.0, 0.05)),
        st.builds(lambda v: {"sda": v}, rates(0.0, 2000.0)),
    )
    return st.fixed_dictionaries({
        "prepay": prepay, "default": default, "severity": rates(0.0, 1.0),
        "recovery_lag": st.integers(0, 24), "advancing": st.booleans(),
    })
