"""An independent reference for a credit-card master trust series, written from CONVENTIONS R2.9's
text: plain Python, one month at a time, names instead of columns. Nothing is shared with the
kernel."""

from __future__ import annotations


def _at(v, t):
    """Month ``t`` (1-based) of a number or a monthly vector whose last value carries forward."""
    if isinstance(v, list | tuple):
        return float(v[min(t, len(v)) - 1])
    return float(v)


def run(series: dict, receivables: float, scen: dict) -> list[dict]:
    """Every month until the invested amount and the PFA are both zero, or the legal final."""
    R, I = receivables, series["invested_amount"]
    coupon, servicing = series["coupon"], series.get("servicing_fee", 0.02)
    Rv, A = series["revolving_months"], series["accumulation_months"]
    pfa = deficit = shortfall = 0.0
    F = None
    caa = None
    early = False
    history = []  # annualized excess spread, month by month
    out = []
    for t in range(1, series.get("legal_final_months", 120) + 1):
        if I <= 0 and pfa <= 0:
            break
        if early or t > Rv + A:
            phase = "amortization"
        elif t > Rv:
            phase = "accumulation"
        else:
            phase = "revolving"
        if t == Rv + 1 and phase == "accumulation":
            caa = I / A
        f = I / R                                           # 1. floating allocation percentage
        PC = _at(scen["payment_rate"], t) * R               # 2. collections on the trust
        FC = _at(scen["portfolio_yield"], t) / 12 * R
        CO = _at(scen["charge_off_rate"], t) / 12 * R
        NR = _at(scen.get("purchase_rate", 1.0), t) * PC
        R = R - PC - CO + NR
        IFC, IDR = f * FC, f * CO                           # 3. investor shares
        IPC = f * PC if phase == "revolving" else F * PC
        left = IFC                                          # 4. finance-charge waterfall
        due = coupon / 12 * I + shortfall
        interest = min(left, due)
        left -= interest
        shortfall = due - interest if due - interest >= 1e-6 else 0.0
        fee = min(left, servicing / 12 * I)
        left -= fee
        covered = min(left, IDR)
        left -= covered
        es = 12 * (IFC - IDR - coupon / 12 * I - servicing / 12 * I) / I   # 5.
        I -= IDR - covered                                  # the uncovered charge-off reduces I
        I = I if I >= 1e-6 else 0.0
        available = IPC + covered                           # 6. principal
        paid = seller = deposit = 0.0
        if phase == "revolving":
            seller = available
        elif phase == "accumulation":
            want = min(caa + deficit, max(I - pfa, 0.0))
            deposit = min(available, want)
            deficit = want - deposit
            seller = available - deposit
            pfa += deposit
            if t == Rv + A:
                paid = min(pfa, I)
                seller += pfa - paid
                pfa = 0.0
                I -= paid
        else:
            paid = min(available + pfa, I)
            seller = available + pfa - paid
            pfa = 0.0
            I -= paid
        I = I if I >= 1e-6 else 0.0
        history.append(es)
        average = sum(history[-3:]) / len(history[-3:])    # 7. the trigger
        if phase != "amortization" and average < 0:
            early = True
            if phase == "revolving":
                F = I / R
        if t == Rv and not early:
            F = I / R
        out.append({"receivables": R, "principal_collections": PC, "finance_charges": FC, "charge_offs": CO,
                    "new_receivables": NR, "floating_pct": f, "investor_finance_charges": IFC,
                    "investor_charge_offs": IDR, "investor_principal_collections": IPC, "interest_due": due,
                    "interest_paid": interest, "interest_shortfall": shortfall, "servicing_fee": fee,
                    "charge_offs_covered": covered, "investor_charge_off": IDR - covered, "excess_spread": left,
                    "excess_spread_rate": es, "excess_spread_3m": average, "pfa_deposit": deposit,
                    "pfa_balance": pfa, "accumulation_deficit": deficit, "principal_paid": paid,
                    "principal_to_seller": seller, "invested_amount": I,
                    "phase": {"revolving": 0, "accumulation": 1, "amortization": 2}[phase],
                    "early_amortization": int(early)})
    return out
