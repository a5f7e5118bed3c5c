"""``abs-engine``: validate files, run a deal under a scenario, price its tranches, print JSON Schemas.

Exit codes: 0 success, 2 bad input (the error on stderr, nothing written).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from .errors import SpecError
from .ledger import LedgerError
from .settlement import BackingError

__all__ = ["main"]


def _atomic(out: str, write) -> None:
    """``write(path)`` to a temp file beside ``out``, then rename it into place: a failed run
    leaves no partial file."""
    target = Path(out)
    fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=".abs-engine-",
                               suffix=target.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write(text: str, out: str | None) -> None:
    """Print, or write ``out`` atomically."""
    if out is None:
        sys.stdout.write(text)
    else:
        _atomic(out, lambda path: Path(path).write_text(text, encoding="utf-8"))


def cmd_validate(args: argparse.Namespace) -> int:
    from .loading import is_deck, load_deal, load_deck, read_structured_file

    for path in args.files:
        data = read_structured_file(path)
        if isinstance(data, dict) and "collateral" in data:
            load_deal(path)
            print(f"{path}: valid deal")
        elif is_deck(data):
            print(f"{path}: valid deck of {len(load_deck(path))} scenarios")
        else:
            load_deck(path)
            print(f"{path}: valid scenario")
    return 0


def _summary_lines(res) -> list[str]:
    pool = res.pool
    principal = pool["scheduled_principal"] + pool["prepayment"] + pool["recovery"]
    original = res.program.original_balance
    wal = float((principal * principal.index).sum() / principal.sum() / 12.0) if principal.sum() else 0.0
    scen = res.scenarios[0]
    return [
        f"deal      {res.deal.name}",
        f"scenario  {scen.name or '-'}: prepay {scen.prepay.kind} {scen.prepay.value}, default "
        f"{scen.default.kind} {scen.default.value}, severity {scen.severity}, lag {scen.recovery_lag}, "
        f"advancing {bool(res.program.scenarios.advancing[0])}",
        f"loans     {len(res.program.loans):,}   original balance {original:,.2f}   periods {len(pool)}",
        f"pool WAL  {wal:.4f} years   principal {principal.sum():,.2f}   interest (net) "
        f"{pool['net_interest'].sum():,.2f}   loss {pool['loss'].sum():,.2f} "
        f"({pool['loss'].sum() / original:.4%} of original)" if original else "",
        "",
    ]


def cmd_run(args: argparse.Namespace) -> int:
    from .engine import run

    res = run(args.deal, args.scenario)
    pool = res.pool
    if args.format == "csv":
        text = pool.to_csv(date_format="%Y-%m-%d")
        if res.waterfall is not None and args.out is None:
            text += "\n" + res.tranches.to_csv()
    elif args.format == "json":
        records = json.loads(pool.reset_index().to_json(orient="records", date_format="iso"))
        doc = {"deal": res.deal.name, "scenario": res.scenarios[0].name,
               "check": {k: float(v) for k, v in res.check().abs().max().items()}, "pool": records}
        if res.waterfall is not None:
            doc["summary"] = json.loads(res.summary().reset_index().to_json(orient="records"))
            doc["tranches"] = json.loads(res.tranches.reset_index().to_json(orient="records"))
        text = json.dumps(doc, indent=1) + "\n"
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 250,
                               "display.float_format", "{:,.2f}".format):
            shown = pool.drop(columns=["smm", "mdr"]).assign(
                smm=pool["smm"].map("{:.6f}".format), mdr=pool["mdr"].map("{:.6f}".format))
            if shown["date"].isna().all():
                shown = shown.drop(columns="date")
            parts = ["\n".join(_summary_lines(res))]
            if res.waterfall is not None:
                summary = res.summary()
                for col, fmt in (("wal", "{:.4f}"), ("yield", "{:.4%}"), ("price", "{:.4f}"),
                                 ("modified_duration", "{:.4f}")):
                    summary[col] = summary[col].map(lambda x, f=fmt: "" if x != x else f.format(x))
                parts.append("tranches\n" + summary.to_string() + "\n")
                check = res.check().abs().max()
                parts.append("checks    " + "   ".join(f"{k} {v:.2e}" for k, v in check.items()) + "\n")
            parts.append("pool\n" + shown.to_string() + "\n")
            text = "\n".join(parts)
    _write(text, args.out)
    return 0


def cmd_price(args: argparse.Namespace) -> int:
    import pandas as pd

    from .engine import run

    res = run(args.deal, args.scenario)
    names = [t.name for t in res.deal.notes]
    if args.tranche is not None and args.tranche not in names:
        raise SpecError("--tranche", args.tranche, f"a class of notes of the deal ({names})")
    chosen = [args.tranche] if args.tranche else names
    price = {n: args.price for n in chosen} if args.price is not None else None
    yld = {n: args.yield_ for n in chosen} if args.yield_ is not None else None
    if price is None and yld is None:
        price = {n: 100.0 for n in chosen}
    table = res.analytics(price=price, yield_=yld, delay_days=args.delay_days).loc[chosen]
    with pd.option_context("display.width", 200, "display.max_columns", None):
        text = (f"deal {res.deal.name}, scenario {res.scenarios[0].name}, delay {args.delay_days:g} days; "
                "yields bond-equivalent, prices per 100 of original face, durations in years\n"
                + table.to_string(float_format=lambda x: f"{x:.6f}") + "\n")
    _write(text, args.out)
    return 0


def cmd_grid(args: argparse.Namespace) -> int:
    import pandas as pd

    from .engine import run

    res = run(args.deal, args.scenarios)
    summary = res.summary()
    if not res.scenario_level:
        summary = pd.concat([summary], keys=[res.program.scenarios.names[0]], names=["scenario"])
    if args.out and args.out.endswith((".parquet", ".pq")):
        _atomic(args.out, lambda path: summary.reset_index().to_parquet(path))
    elif args.out:
        _write(summary.to_csv(), args.out)
    with pd.option_context("display.width", 200, "display.max_columns", None, "display.max_rows", None):
        print(f"deal {res.deal.name}: {len(res.scenarios)} scenarios; across scenarios, per tranche "
              "(loss = writedowns / original face; yield at par):")
        print(res.distribution().to_string(float_format=lambda x: f"{x:.6f}"))
    return 0


def cmd_breakeven(args: argparse.Namespace) -> int:
    import pandas as pd

    from .breakeven import breakevens

    table = breakevens(args.deal, args.scenario, kind=args.kind, yield_floor=args.yield_floor, price=args.price)
    with pd.option_context("display.width", 200):
        text = (f"highest {args.kind} with no writedown" + (f"; with yield >= {args.yield_floor:g} at price "
                f"{args.price:g}" if args.yield_floor is not None else "") + "\n"
                + table.to_string(float_format=lambda x: f"{x:.6f}") + "\n")
    _write(text, args.out)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from .spec import Deal, Scenario
    from .spec.collections import CollectionReport
    from .spec.deck import Deck
    from .spec.settlement import SettlementSpec

    model = {"deal": Deal, "scenario": Scenario, "deck": Deck, "collections": CollectionReport,
             "settlement": SettlementSpec}[args.what]
    _write(json.dumps(model.model_json_schema(), indent=2) + "\n", args.out)
    return 0


def cmd_distribute(args: argparse.Namespace) -> int:
    from .servicing import Servicer

    servicer = Servicer(args.deal, args.ledger, base_scenario=args.base_scenario)
    rep = servicer.distribute(args.collections)
    pool = rep.pool
    lines = [f"deal {rep.data['deal']}: period {rep.period}, paid {rep.data['payment_date']}; "
             f"pool {pool['beginning_balance']:,.2f} -> {pool['ending_balance']:,.2f}; "
             f"interest collected {pool['gross_interest']:,.2f}, principal "
             f"{pool['scheduled_principal'] + pool['prepayment'] + pool['recovery']:,.2f}, "
             f"net loss {pool['loss']:,.2f}",
             rep.tranches.to_string(float_format=lambda x: f"{x:,.2f}" if abs(x) >= 1 or x == 0 else f"{x:.4f}"),
             f"reconciliation residuals: {', '.join(f'{k} {v:.2e}' for k, v in rep.check.items())}",
             f"recorded in {args.ledger}: report hash {rep.hash}"]
    _write("\n".join(lines) + "\n", None)
    return 0


def cmd_ledger(args: argparse.Namespace) -> int:
    from .ledger import Ledger
    from .servicing import PeriodReport, Servicer

    if args.action == "show":
        ledger = Ledger.open(args.file)
        lines = [f"ledger {args.file}: deal {ledger.meta('deal_name')} (id {ledger.deal_id})",
                 f"{'seq':>4} {'period':>6} {'version':>7}  {'payment date':<12} {'hash':<20} reason"]
        for r in ledger.rows():
            rep = PeriodReport.from_json(r.report)
            lines.append(f"{r.seq:>4} {r.period:>6} {r.version:>7}  {rep.data['payment_date']:<12} "
                         f"{r.hash[:18]}.. {r.reason or ''}")
        _write("\n".join(lines) + "\n", None)
        return 0
    if args.action == "head":
        ledger = Ledger.open(args.file)
        head = ledger.head()
        if args.typed_data:
            from .attestation import head_typed_data

            _write(json.dumps(head_typed_data(head, chain_id=args.chain_id), indent=2) + "\n", args.out)
        else:
            _write(f"deal {head['deal_id']}\nseq {head['seq']}\nperiod {head['period']}\nhead {head['hash']}\n", args.out)
        return 0
    if args.deal is None:  # the chain only
        ledger = Ledger.open(args.file)
        rows = 0
        for row, problem in ledger.walk(head=args.head):
            if problem:
                where = f"row {row.seq} ({row.table}, period {row.period})" if row is not None else "the chain"
                print(f"MISMATCH at {where}: {problem}")
                return 1
            rows += 1
        print(f"chain ok: {rows} rows" + (f", head {args.head} included" if args.head else "")
              + " (give --deal to recompute every period too)")
        return 0
    result = Servicer(args.deal, args.file).verify(head=args.head)
    print(result)
    return 0 if result.ok else 1


def cmd_settle(args: argparse.Namespace) -> int:
    from .ledger import Ledger, LedgerError
    from .onchain import calldata, merkle_claims, safe_batch
    from .reports import PeriodReport
    from .settlement import record, settle

    ledger = Ledger.open(args.ledger)
    current = ledger.current()
    if args.period not in current:
        raise LedgerError(f"period {args.period} is not recorded in {args.ledger}")
    report = PeriodReport.from_json(current[args.period].report)
    s = settle(report, args.holders, ledger=ledger, override_reason=args.override_reason)
    out = Path(args.out)
    files = {f"period_{s.period}_settlement.json": s.summary()}
    for ins in s.instructions:
        stem = f"period_{s.period}_chain_{ins.chain_id}"
        if args.format == "calldata":
            files[f"{stem}_calldata.json"] = calldata(ins)
        elif args.format == "safe":
            files[f"{stem}_safe_batch.json"] = safe_batch(ins)
        else:
            files[f"{stem}_merkle.json"] = merkle_claims(ins)
    out.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        _atomic(str(out / name), lambda tmp, c=content: Path(tmp).write_text(json.dumps(c, indent=2) + "\n"))
    record(ledger, s)
    lines = [f"deal {s.deal}: period {s.period} settled in {s.decimals}-decimal base units"]
    for ins in s.instructions:
        w = sum(s.withheld.get(ins.chain_id, {}).values())
        lines.append(f"  chain {ins.chain_id}: {len(ins.transfers)} recipients, total {ins.total}, withheld {w}, "
                     f"content id {ins.content_id}")
    lines.append(f"  backing: tokens outstanding {s.backing['tokens_outstanding']:,.2f} <= pool + cash "
                 f"{s.backing['assets']:,.2f}: {s.backing['backed']}")
    lines.append(f"  wrote {', '.join(sorted(files))} to {out}; recorded as built in {args.ledger}")
    _write("\n".join(lines) + "\n", None)
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="abs-engine", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="validate deal and scenario files")
    v.add_argument("files", nargs="+")
    v.set_defaults(fn=cmd_validate)
    r = sub.add_parser("run", help="project a deal under a scenario")
    r.add_argument("deal")
    r.add_argument("--scenario", required=True)
    r.add_argument("--format", choices=("table", "csv", "json"), default="table")
    r.add_argument("--out", help="write here instead of stdout")
    r.set_defaults(fn=cmd_run)
    pr = sub.add_parser("price", help="yield from price (or price from yield), duration, convexity, DM")
    pr.add_argument("deal")
    pr.add_argument("--scenario", required=True)
    pr.add_argument("--tranche", help="one class of notes (default: all)")
    given = pr.add_mutually_exclusive_group()
    given.add_argument("--price", type=float, help="price per 100 of original face (default: 100)")
    given.add_argument("--yield", dest="yield_", type=float, help="bond-equivalent yield, decimal")
    pr.add_argument("--delay-days", type=float, default=0.0, help="payment delay in days (default 0)")
    pr.add_argument("--out")
    pr.set_defaults(fn=cmd_price)
    g = sub.add_parser("grid", help="run a deck of scenarios; per-tranche distribution across them")
    g.add_argument("deal")
    g.add_argument("--scenarios", required=True, help="a deck (grid, monte_carlo or scenarios list)")
    g.add_argument("--out", help="per-scenario summaries as .parquet or .csv")
    g.set_defaults(fn=cmd_grid)
    be = sub.add_parser("breakeven", help="default levels at which each tranche first loses principal")
    be.add_argument("deal")
    be.add_argument("--scenario", required=True)
    be.add_argument("--kind", choices=("cdr", "sda", "scale"), default="cdr")
    be.add_argument("--yield-floor", type=float, help="also the level where the yield falls to this")
    be.add_argument("--price", type=float, default=100.0, help="price for the yield breakeven (default 100)")
    be.add_argument("--out")
    be.set_defaults(fn=cmd_breakeven)
    d = sub.add_parser("distribute", help="distribute a period from the servicer's collections; record it")
    d.add_argument("deal")
    d.add_argument("--collections", required=True, help="the servicer report (YAML/JSON; a loan tape beside it)")
    d.add_argument("--ledger", required=True, help="the SQLite ledger (created on first use)")
    d.add_argument("--base-scenario", help="scenario for variance (default: none)")
    d.set_defaults(fn=cmd_distribute)
    lg = sub.add_parser("ledger", help="show a ledger, print its chain head, or verify it")
    lg.add_argument("action", choices=("show", "head", "verify"),
                    help="show: the periods; head: the chain head (seq, period, hash) to keep outside the ledger; "
                         "verify: the hash chain (and with --deal every period recomputed)")
    lg.add_argument("file", help="the SQLite ledger")
    lg.add_argument("--deal", help="verify: recompute every period with this deal (else the hash chain only)")
    lg.add_argument("--head", help="verify: a head hash kept outside the ledger; rows removed after it, or "
                                   "rewritten, are found")
    lg.add_argument("--typed-data", action="store_true", help="head: print it as EIP-712 typed data to sign")
    lg.add_argument("--chain-id", type=int, default=1, help="head --typed-data: the EIP-712 domain's chain id")
    lg.add_argument("--out", help="head: write here instead of stdout")
    lg.set_defaults(fn=cmd_ledger)
    st = sub.add_parser("settle", help="allocate a recorded period to token holders; write onchain instructions")
    st.add_argument("--ledger", required=True)
    st.add_argument("--period", type=int, required=True)
    st.add_argument("--holders", required=True, help="settlement inputs: payment token, sources, snapshots")
    st.add_argument("--format", choices=("calldata", "safe", "merkle"), default="safe")
    st.add_argument("--out", required=True, help="directory for the instruction files")
    st.add_argument("--override-reason", help="emit although the notes are not backed, for this stated reason")
    st.set_defaults(fn=cmd_settle)
    s = sub.add_parser("schema", help="print a spec's JSON Schema")
    s.add_argument("what", choices=("deal", "scenario", "deck", "collections", "settlement"), nargs="?", default="deal")
    s.add_argument("--out")
    s.set_defaults(fn=cmd_schema)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except SpecError as exc:
        print(f"abs-engine: error: {exc}", file=sys.stderr)
        return 2
    except LedgerError as exc:
        print(f"abs-engine: ledger: {exc}", file=sys.stderr)
        return 3
    except BackingError as exc:
        print(f"abs-engine: not backed: {exc}", file=sys.stderr)
        return 4


if __name__ == "__main__":
    raise SystemExit(main())
