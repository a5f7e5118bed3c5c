"""Independent reference for a deal with several collateral groups, written from CONVENTIONS
R2.12 (and R2's defaults: 30/360 interest ``coupon/12 x beginning balance``, unpaid interest
carried without interest, amounts below 1e-6 count as zero, what is left goes to the residual).

Plain Python over dicts, one scenario: each group's pool flows come from the collateral
reference (``tests/oracles/collateral.py``); classes are named, with ``group`` (a senior class
of that group) or none (subordinate), and listed in seniority order.
"""

from __future__ import annotations

ZERO = 1e-6


def _pay_interest(cash: float, name: str, due: dict, interest: dict) -> float:
    """``cash`` paid towards ``name``'s interest still due; what is left."""
    p = min(cash, due[name] - interest[name])
    interest[name] += p
    return cash - p


def _pay_principal(cash: list, g: int, names: list, bal: dict, principal: dict) -> None:
    """Group ``g``'s principal ``cash[g]`` retires ``names`` in order."""
    for name in names:
        p = min(cash[g], bal[name])
        bal[name] -= p
        principal[name] += p
        cash[g] -= p


def run(classes: list[dict], pools: list[dict], n: int) -> dict:
    """``classes``: ``{"name", "balance", "coupon", "group"}`` (group an index, or None), most
    senior first; ``pools``: per group the reference's columns (``net_interest``,
    ``scheduled_principal``, ``prepayment``, ``recovery``, ``ending_balance``). Returns per class
    lists ``interest``, ``principal``, ``writedown``, ``balance`` (ending), ``shortfall``, and
    ``residual`` per month."""
    groups = range(len(pools))
    bal = {c["name"]: c["balance"] for c in classes}
    carried = {c["name"]: 0.0 for c in classes}
    out = {c["name"]: {"interest": [], "principal": [], "writedown": [], "balance": [], "shortfall": []}
           for c in classes}
    out["residual"] = []

    def seniors(g):
        return [c["name"] for c in classes if c["group"] == g]

    subordinates = [c["name"] for c in classes if c["group"] is None]
    for t in range(n):
        due = {c["name"]: c["coupon"] / 12.0 * bal[c["name"]] + carried[c["name"]] for c in classes}
        interest = dict.fromkeys(bal, 0.0)
        principal = dict.fromkeys(bal, 0.0)
        writedown = dict.fromkeys(bal, 0.0)

        # R2.12.2.1: each group's net interest pays its own senior class's interest
        left_over = []
        for g in groups:
            cash = pools[g]["net_interest"][t]
            for name in seniors(g):
                cash = _pay_interest(cash, name, due, interest)
            left_over.append(cash)
        # R2.12.2.2-3: what is left of all groups is pooled: senior interest unpaid (group order),
        # then the subordinate class's interest, then the residual
        pooled = sum(left_over)
        for g in groups:
            for name in seniors(g):
                pooled = _pay_interest(pooled, name, due, interest)
        for name in subordinates:
            pooled = _pay_interest(pooled, name, due, interest)
        residual = pooled

        # R2.12.3: group g's principal pays its own seniors, then the other groups' seniors (group
        # order), then the subordinate class, then the residual; groups in group order at each step
        cash = [pools[g]["scheduled_principal"][t] + pools[g]["prepayment"][t] + pools[g]["recovery"][t]
                for g in groups]

        for g in groups:
            _pay_principal(cash, g, seniors(g), bal, principal)
        for g in groups:
            for h in groups:
                if h != g:
                    _pay_principal(cash, g, seniors(h), bal, principal)
        for g in groups:
            _pay_principal(cash, g, subordinates, bal, principal)
        residual += sum(cash)

        # R2.12.4: losses
        excess = sum(bal.values()) - sum(pools[g]["ending_balance"][t] for g in groups)
        if excess > ZERO:
            for name in reversed(subordinates):
                w = min(bal[name], excess)
                bal[name] -= w
                writedown[name] += w
                excess -= w
        if sum(bal[name] for name in subordinates) < ZERO:
            for g in groups:
                over = sum(bal[name] for name in seniors(g)) - pools[g]["ending_balance"][t]
                if over > ZERO:
                    for name in reversed(seniors(g)):
                        w = min(bal[name], over)
                        bal[name] -= w
                        writedown[name] += w
                        over -= w

        for c in classes:
            name = c["name"]
            unpaid = due[name] - interest[name]
            carried[name] = unpaid if unpaid >= ZERO else 0.0
            for key, value in (("interest", interest[name]), ("principal", principal[name]),
                               ("writedown", writedown[name]), ("balance", bal[name]),
                               ("shortfall", carried[name])):
                out[name][key].append(value)
        out["residual"].append(residual)
    return out
