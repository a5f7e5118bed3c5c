"""A deal as people read it: the capital structure and the priority of payments as an indented
tree (:func:`describe`), and as a diagram (:class:`Diagram`: Graphviz DOT and Mermaid sources,
rendered to SVG or PNG by Graphviz's ``dot`` where it is installed).

Everything here reads the spec only: no run, no compiled program. The wording of each step
follows the waterfall's own vocabulary (CONVENTIONS: interest funds pay fees and interest,
principal funds pay principal; a single priority pays everything from available funds).
"""

from __future__ import annotations

import shutil
import subprocess
from typing import TYPE_CHECKING

from ..errors import SpecError
from .structure import FloatingCoupon, ReserveTarget, SplitWaterfall

if TYPE_CHECKING:
    from .deal import Deal

__all__ = ["describe", "Diagram", "diagram", "step_text", "coupon_text"]


def _pct(x: float) -> str:
    return f"{x:.4%}"


def coupon_text(t) -> str:
    """``fixed 4.5500%``, ``SOFR + 0.4500% (cap 7%)``, ``residual``, ``IO on A-1``..."""
    if t.residual:
        return "residual (whatever is left)"
    c = t.coupon
    if isinstance(c, FloatingCoupon):
        text = f"{c.index} + {_pct(c.spread)}"
        bounds = [f"cap {_pct(c.cap)}" if c.cap is not None else "", f"floor {_pct(c.floor)}" if c.floor else ""]
        bounds = [b for b in bounds if b]
        text += f" ({', '.join(bounds)})" if bounds else ""
    else:
        text = f"fixed {_pct(c)}"
    if t.notional is not None:
        on = "the pool" if t.notional.pool else t.notional.tranche
        text += f", interest-only on {on}" + (f" (WAC strip over {_pct(t.strike)})" if t.strike is not None else "")
    if t.accrual is not None:
        text += f", accrual (Z) class paying {', '.join(t.accrual.directed_to)}"
    if t.step_up is not None:
        text += f", steps up {_pct(t.step_up.by)}"
    if t.group is not None:
        text += f", senior of group {t.group}"
    return text + f", {t.day_count}"


def _fee_text(f) -> str:
    if f.rate is not None:
        return f"{_pct(f.rate)} a year of the {f.basis.replace('_', ' ')}"
    if f.amount is not None:
        return f"{f.amount:,.2f} a period"
    if f.interest_share is not None:
        return f"{_pct(f.interest_share)} of interest collections"
    return "a schedule of amounts"


def _target_text(a) -> str:
    t = a.target
    if isinstance(t, ReserveTarget):
        return (f"target {_pct(t.pct)} of the {t.basis.replace('_', ' ')}" + (f", floor {t.floor:,.2f}" if t.floor
                                                                               else ""))
    return f"target {t:,.2f}"


def step_text(step) -> str:
    """One step of a priority of payments, in words: what it pays and on what condition."""
    pay = step.pay
    if pay == "fees":
        text = f"fees: {', '.join(step.fees)}"
    elif pay == "interest":
        text = f"interest: {', '.join(step.tranches)}" + (" (pro rata)" if len(step.tranches) > 1 else "")
    elif pay == "principal":
        amount = {"collections": "principal collections", "oc_target": "down to the OC target",
                  "available": "all available funds", "accretion": "Z accretion"}[step.amount]
        how = step.allocation if step.sequential_if is None else f"pro rata, sequential if {step.sequential_if}"
        text = f"principal ({amount}, {how.replace('_', ' ')}): {', '.join(step.tranches)}"
        if step.down_to is not None:
            text += f", down to schedule {step.down_to}"
        if step.groups is not None:
            text += f", in groups {[list(g) for g in step.groups]} ({step.within.replace('_', ' ')} within)"
    elif pay == "reserve":
        text = f"reserve: refill {step.account} to its target, release the excess"
    elif pay == "transfer":
        text = f"transfer: {step.from_account} -> {step.to_account} ({step.amount.replace('_', ' ')})"
    elif pay == "accretion":
        text = f"accretion of {step.tranche}"
    elif pay == "hedge":
        text = f"hedge: net payment of {step.hedge}"
    elif pay in ("facility_interest", "facility_repayment"):
        text = f"{pay.replace('_', ' ')}: {step.facility}"
    elif pay == "residual":
        text = f"residual: everything left to {step.tranche}"
    else:  # pragma: no cover - every step type is listed above
        text = pay
    if step.when is not None:
        text += f"  [only while {step.when} is breached]"
    if step.unless is not None:
        text += f"  [unless {step.unless} is breached]"
    return text


def _tree(lines: list[str], items: list, prefix: str) -> None:
    """Append ``items`` (text, or ``(text, children)``) as a tree under ``prefix``."""
    for k, item in enumerate(items):
        last = k == len(items) - 1
        text, children = item if isinstance(item, tuple) else (item, [])
        lines.append(f"{prefix}{'└─ ' if last else '├─ '}{text}")
        _tree(lines, children, prefix + ("   " if last else "│  "))


def _collateral_items(deal: Deal) -> list:
    coll = deal.collateral
    if coll.receivables is not None:
        return [f"credit-card receivables {coll.receivables:,.2f}"]

    def lines_text(rep_lines) -> str:
        total = sum(r.balance for r in rep_lines)
        wac = sum(r.balance * r.wac for r in rep_lines) / total if total else 0.0
        wam = sum(r.balance * r.wam for r in rep_lines) / total if total else 0.0
        arm = sum(r.arm is not None for r in rep_lines)
        return (f"{len(rep_lines)} rep line{'s' if len(rep_lines) != 1 else ''}, balance {total:,.2f}, WAC "
                f"{_pct(wac)}, WAM {wam:.1f} months" + (f", {arm} adjustable-rate" if arm else ""))

    if coll.groups is not None:
        items = [f"group {g.name}: " + (lines_text(g.rep_lines) if g.rep_lines is not None
                                        else f"loan tape {g.loan_tape}") for g in coll.groups]
    elif coll.rep_lines is not None:
        items = [lines_text(coll.rep_lines)]
    else:
        items = [f"loan tape {coll.loan_tape}"]
    items[0] = f"{coll.asset_type}: {items[0]}"
    if coll.reinvestment is not None:
        r = coll.reinvestment
        items.append(f"revolving: collections buy new loans for {r.months} months at {_pct(r.wac)} over {r.term} "
                     f"months" + (f", ended early by {r.ends_when}" if r.ends_when else ""))
    return items


def describe(deal: Deal) -> str:
    """The deal as an indented tree: collateral, capital structure (classes in priority order,
    with balance, share of the pool and coupon), fees, accounts, triggers, credit enhancement
    and the priority of payments step by step, with what each step pays from and which accounts
    or facilities cover it.

    >>> from abs_engine.spec import Deal
    >>> deal = Deal.model_validate({"name": "Two classes", "collateral": {"rep_lines": [
    ...     {"balance": 100.0, "wac": 0.06, "wam": 360}]},
    ...     "tranches": [{"name": "A", "balance": 80.0, "coupon": 0.05, "priority": 1},
    ...                  {"name": "B", "balance": 20.0, "coupon": 0.07, "priority": 2},
    ...                  {"name": "R", "residual": True}],
    ...     "waterfall": [{"pay": "interest", "tranches": ["A"]}, {"pay": "interest", "tranches": ["B"]},
    ...                   {"pay": "principal", "tranches": ["A", "B"]}, {"pay": "residual", "tranche": "R"}]})
    >>> print(describe(deal))  # doctest: +NORMALIZE_WHITESPACE
    Two classes
    ├─ collateral
    │  └─ mortgage: 1 rep line, balance 100.00, WAC 6.0000%, WAM 360.0 months
    ├─ capital structure (notes 100.00, 100.0000% of the pool)
    │  ├─ A  80.00 (80.0000%)  priority 1  fixed 5.0000%, 30/360
    │  ├─ B  20.00 (20.0000%)  priority 2  fixed 7.0000%, 30/360
    │  └─ R  residual (whatever is left)
    └─ priority of payments (each step from available funds, in order)
       ├─ 1. interest: A
       ├─ 2. interest: B
       ├─ 3. principal (principal collections, sequential): A, B
       └─ 4. residual: everything left to R
    """
    if deal.series is not None:
        s = deal.series
        return "\n".join([deal.name, f"└─ card trust series {s.name}: invested {s.invested_amount:,.2f} of "
                          f"receivables {deal.collateral.receivables:,.2f}, coupon {_pct(s.coupon)}, servicing "
                          f"{_pct(s.servicing_fee)}; revolving {s.revolving_months} months, accumulation "
                          f"{s.accumulation_months} months (CONVENTIONS R2.9)"])
    pool = _pool_balance(deal)
    sections: list = [("collateral", _collateral_items(deal))]
    if deal.tranches:
        notes = sum(t.balance for t in deal.notes)
        width = max(len(t.name) for t in deal.tranches)
        money = max(len(f"{t.balance:,.2f}") for t in deal.tranches)
        classes = []
        for t in sorted(deal.tranches, key=lambda t: (t.residual, t.priority or 0)):
            if t.residual:
                classes.append(f"{t.name:<{width}}  {coupon_text(t)}")
            else:
                share = f" ({_pct(t.balance / pool)})" if pool else ""
                classes.append(f"{t.name:<{width}}  {t.balance:>{money},.2f}{share}  priority {t.priority}  "
                               f"{coupon_text(t)}")
        head = f"capital structure (notes {notes:,.2f}" + (f", {_pct(notes / pool)} of the pool)" if pool else ")")
        sections.append((head, classes))
    enhancement = []
    if deal.overcollateralization is not None:
        oc = deal.overcollateralization
        enhancement.append(f"overcollateralization target {_pct(oc.pct)} of the {oc.basis.replace('_', ' ')}"
                           + (f", floor {oc.floor:,.2f}" if oc.floor else "")
                           + (f", steps down to {_pct(oc.step_down.pct)} from period {oc.step_down.period}"
                              if oc.step_down else ""))
    if deal.clean_up_call is not None:
        c = deal.clean_up_call
        when = " or ".join(x for x in (f"pool below {_pct(c.pct)} of original" if c.pct is not None else "",
                                       f"on {c.date}" if c.date is not None else "",
                                       f"when {c.when} is breached" if c.when is not None else "") if x)
        enhancement.append(f"clean-up call: {when}")
    if enhancement:
        sections.append(("credit enhancement and call", enhancement))
    if deal.fees:
        sections.append(("fees", [f"{f.name}: {_fee_text(f)}" for f in deal.fees]))
    if deal.accounts:
        sections.append(("accounts", [f"{a.name}: initial {a.initial:,.2f}, {_target_text(a)}"
                                      + (f"; covers {', '.join(a.covers)}" if a.covers else "")
                                      for a in deal.accounts]))
    if deal.hedges:
        sections.append(("hedges", [f"{h.name}: {h.type} on {h.index}" + (f", pays fixed {_pct(h.fixed)}"
                                    if h.fixed is not None else "") + (f", strike {_pct(h.strike)}"
                                    if h.strike is not None else "") for h in deal.hedges]))
    if deal.facilities:
        sections.append(("liquidity facilities", [f"{f.name}: commitment {f.commitment:,.2f}"
                                                  + (f"; covers {', '.join(f.covers)}" if f.covers else "")
                                                  for f in deal.facilities]))
    if deal.triggers:
        sections.append(("triggers", [_trigger_text(t) for t in deal.triggers]))
    cover = _covers(deal)
    if isinstance(deal.waterfall, SplitWaterfall):
        split = deal.waterfall
        for funds, steps in (("interest funds", split.interest), ("principal funds", split.principal)):
            sections.append((f"priority of payments from {funds}", _steps(steps, cover)))
    elif deal.waterfall:
        sections.append(("priority of payments (each step from available funds, in order)",
                         _steps(deal.waterfall, cover)))
    elif deal.collateral.groups is not None:
        sections.append(("priority of payments across collateral groups (CONVENTIONS R2.12)", GROUP_RULE))
    if deal.acceleration is not None:
        events = deal.acceleration.events
        what = [x for x in ("a senior interest shortfall" if events.senior_interest_shortfall else "",
                            f"OC below {events.oc_below:g}" if events.oc_below is not None else "",
                            ", ".join(events.triggers)) if x]
        steps = [s for _, s in deal.acceleration_steps()]
        sections.append((f"after an event of default ({'; '.join(what)}): one priority from all funds",
                         _steps(steps, cover)))
    lines = [deal.name]
    _tree(lines, sections, "")
    return "\n".join(lines)


GROUP_RULE = [
    "1. interest: each group's interest to its own senior classes; what is left, pooled, to seniors still "
    "unpaid, then the subordinate classes in order, then the residual",
    "2. principal: each group's principal to its own seniors, then to other groups' seniors, then to the "
    "subordinate classes in order",
    "3. losses: write down the subordinates (most junior first), then each senior by what it exceeds its own "
    "group's pool",
]
"""The fixed priority of a deal with collateral groups, in words."""


def _pool_balance(deal: Deal) -> float:
    coll = deal.collateral
    if coll.rep_lines is not None:
        return float(sum(r.balance for r in coll.rep_lines))
    if coll.groups is not None and all(g.rep_lines is not None for g in coll.groups):
        return float(sum(r.balance for g in coll.groups for r in g.rep_lines))
    if deal._tape is not None:
        return float(deal._tape.balance.sum())
    return 0.0


def _trigger_text(t) -> str:
    when = t.breached_when or "above"
    threshold = t.threshold if isinstance(t.threshold, int | float) else "a schedule"
    shown = _pct(threshold) if isinstance(threshold, float) and threshold < 1 else str(threshold)
    return (f"{t.name}: {t.metric.replace('_', ' ')} {when} {shown}, "
            + ("curable" if t.curable else "not curable once breached"))


def _covers(deal: Deal) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for a in deal.accounts:
        for ref in a.covers:
            out.setdefault(ref, []).append(a.name)
    for f in deal.facilities:
        for ref in f.covers:
            out.setdefault(ref, []).append(f.name)
    return out


def _steps(steps, cover: dict[str, list[str]]) -> list[str]:
    out = []
    for k, s in enumerate(steps, start=1):
        text = f"{k}. {step_text(s)}"
        if s.id is not None and s.id in cover:
            text += f"  (shortfalls covered by {', '.join(cover[s.id])})"
        out.append(text)
    return out


# ------------------------------------------------------------------------------------ diagrams
def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Diagram:
    """A deal's structure as a diagram: ``dot`` (Graphviz) and ``mermaid`` sources; ``svg()``
    and ``png()`` render the DOT source with Graphviz's ``dot`` program (Debian/Ubuntu:
    ``apt-get install graphviz``). In a notebook it shows itself as SVG where ``dot`` is
    installed, else as a Mermaid block (JupyterLab 4.1+ and GitHub render those)."""

    def __init__(self, deal: Deal):
        self.deal = deal
        self.nodes, self.edges = _graph(deal)

    @property
    def dot(self) -> str:
        """The Graphviz DOT source."""
        lines = [f'digraph "{_quote(self.deal.name)}" {{', "  rankdir=TB;",
                 '  node [shape=box, style="rounded,filled", fillcolor="#f6f8fa", fontname="Helvetica", '
                 'fontsize=11];', '  edge [fontname="Helvetica", fontsize=9];',
                 f'  labelloc=t; label="{_quote(self.deal.name)}";']
        colors = {"funds": "#dbeafe", "step": "#f6f8fa", "class": "#dcfce7", "account": "#fef9c3", "fee": "#fde2e2",
                  "residual": "#e9d5ff"}
        kinds = {node_id: kind for node_id, _, kind in self.nodes}
        classes = [n for n in self.nodes if n[2] in ("class", "residual")]
        others = [n for n in self.nodes if n[2] not in ("class", "residual")]
        for node_id, label, kind in others:
            lines.append(f'  {node_id} [label="{_quote(label)}", fillcolor="{colors[kind]}"];')
        if classes:  # the capital structure: one column, in priority order
            lines.append('  subgraph cluster_structure { label="capital structure"; style="rounded,dashed";')
            for node_id, label, kind in classes:
                lines.append(f'    {node_id} [label="{_quote(label)}", fillcolor="{colors[kind]}"];')
            pairs = zip(classes, classes[1:], strict=False)
            lines += [f"    {a} -> {b} [style=invis];" for (a, _, _), (b, _, _) in pairs]
            lines.append("  }")
        for a, b, label, style in self.edges:
            attrs = [f'label="{_quote(label)}"'] if label else []
            if style == "pays":  # what a step pays, and what covers it: drawn, but not ranking the nodes
                attrs += ["style=dashed", "constraint=false"]
                if kinds[b] in ("class", "residual"):
                    attrs.append('color="#16a34a"')
            lines.append(f"  {a} -> {b}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
        lines.append("}")
        return "\n".join(lines) + "\n"

    @property
    def mermaid(self) -> str:
        """The Mermaid flowchart source."""
        shapes = {"funds": ("([", "])"), "step": ("[", "]"), "class": ("[[", "]]"), "account": ("[(", ")]"),
                  "fee": ("{{", "}}"), "residual": ("[/", "/]")}
        lines = ["flowchart TB"]
        for node_id, label, kind in self.nodes:
            left, right = shapes[kind]
            text = label.replace(chr(34), "#quot;").replace("\n", "<br/>")
            lines.append(f'  {node_id}{left}"{text}"{right}')
        for a, b, label, style in self.edges:
            arrow = "-.->" if style == "pays" else "-->"
            lines.append(f"  {a} {arrow}" + (f"|{label}|" if label else "") + f" {b}")
        return "\n".join(lines) + "\n"

    def _render(self, fmt: str) -> bytes:
        exe = shutil.which("dot")
        if exe is None:
            raise SpecError("diagram", fmt, "Graphviz's dot program to render it (apt-get install graphviz; "
                            "or use .dot or .mermaid, which need nothing)")
        out = subprocess.run([exe, f"-T{fmt}"], input=self.dot.encode("utf-8"), capture_output=True, timeout=60,
                             check=False)
        if out.returncode != 0:
            raise SpecError("diagram", fmt, f"a graph dot can render ({out.stderr.decode(errors='replace').strip()})")
        return out.stdout

    def svg(self) -> str:
        """The diagram as SVG text (Graphviz ``dot -Tsvg``)."""
        return self._render("svg").decode("utf-8")

    def png(self) -> bytes:
        """The diagram as PNG bytes (Graphviz ``dot -Tpng``)."""
        return self._render("png")

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": self.mermaid, "text/markdown": f"```mermaid\n{self.mermaid}```\n"}
        if shutil.which("dot") is not None:
            bundle["image/svg+xml"] = self.svg()
        return bundle

    def __repr__(self) -> str:
        return (f"<Diagram of {self.deal.name!r}: {len(self.nodes)} nodes, {len(self.edges)} edges; "
                ".dot, .mermaid, .svg()>")


def diagram(deal: Deal) -> Diagram:
    """The deal's :class:`Diagram`."""
    return Diagram(deal)


def _graph(deal: Deal):
    """Nodes ``(id, label, kind)`` and edges ``(from, to, label, style)``: the funds flow through
    the steps in priority order (solid), and each step points at what it pays (dashed)."""
    nodes, edges = [], []
    ids: dict[tuple[str, str], str] = {}
    if deal.series is not None:  # a card trust series (CONVENTIONS R2.9): the trust's fixed allocation
        s = deal.series
        trust = ("n0", f"trust receivables {deal.collateral.receivables:,.0f}", "funds")
        series = ("n1", f"{s.name}: invested {s.invested_amount:,.0f}\ncoupon {_pct(s.coupon)}", "class")
        seller = ("n2", "seller's interest", "residual")
        return [trust, series, seller], [("n0", "n1", "investor share", "flow"), ("n0", "n2", "seller share", "flow")]

    def node(kind: str, name: str, label: str) -> str:
        key = (kind, name)
        if key not in ids:
            ids[key] = f"n{len(ids)}"
            nodes.append((ids[key], label, kind))
        return ids[key]

    for t in sorted(deal.tranches, key=lambda t: (t.residual, t.priority or 0)):
        label = f"{t.name}\n{coupon_text(t)}" if t.residual else f"{t.name}: {t.balance:,.0f}\n{coupon_text(t)}"
        node("residual" if t.residual else "class", t.name, label)

    def targets(step) -> list[str]:
        if step.pay == "fees":
            return [node("fee", f, f"fee {f}") for f in step.fees]
        if step.pay in ("interest", "principal"):
            return [node("class", t, t) for t in step.tranches]
        if step.pay in ("residual", "accretion"):
            return [node("residual" if step.pay == "residual" else "class", step.tranche, step.tranche)]
        if step.pay == "reserve":
            return [node("account", step.account, f"account {step.account}")]
        if step.pay == "transfer":
            return [node("account", step.to_account, f"account {step.to_account}")]
        return []

    by_id: dict[str, str] = {}

    def chain(funds: str, steps, prefix: str) -> None:
        prev = node("funds", funds, funds)
        for k, s in enumerate(steps, start=1):
            sid = node("step", f"{prefix}{k}", f"{k}. {step_text(s)}")
            if s.id is not None:
                by_id[s.id] = sid
            edges.append((prev, sid, "", "flow"))
            for target in targets(s):
                edges.append((sid, target, s.pay, "pays"))
            prev = sid

    if isinstance(deal.waterfall, SplitWaterfall):
        chain("interest funds", deal.waterfall.interest, "i")
        chain("principal funds", deal.waterfall.principal, "p")
    elif deal.waterfall:
        chain("available funds", deal.waterfall, "w")
    for kind, covering in (("account", deal.accounts), ("account", deal.facilities)):
        for a in covering:
            aid = node(kind, a.name, f"{'facility' if a in deal.facilities else 'account'} {a.name}")
            edges += [(aid, by_id[ref], "covers", "pays") for ref in a.covers if ref in by_id]
    return nodes, edges
