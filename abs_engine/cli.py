"""``abs-engine``: asset-backed securities cash flows, from the deal on paper to onchain payouts.

Exit codes: 0 success, 1 a verification that found a mismatch, 2 bad input (one line on stderr
naming the file, the field and the value; nothing written), 3 a ledger error, 4 notes not backed.
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

from .engine.breakeven import breakevens
from .engine.compare import compare
from .engine.run import run
from .errors import SpecError, SpecWarning
from .io.display import formatter
from .io.display import text as table_text
from .io.files import MAX_SPEC_BYTES, parse_structured_text, write_atomic, write_file_set
from .io.loading import is_deck, load_deal, load_deck, read_structured_file
from .results.card import CardResult
from .results.overview import card_header, run_header
from .servicing.attestation import head_typed_data, sign
from .servicing.investor_report import render_html, report_attestation
from .servicing.ledger import Ledger, LedgerError
from .servicing.reports import PeriodReport
from .servicing.servicer import Servicer
from .settlement.bot import SafeFiles, run_bot
from .settlement.feed import feed_reports
from .settlement.instruction import BackingError, settle
from .settlement.lifecycle import record
from .settlement.renderings import calldata, merkle_claims, safe_batch
from .spec.schemas import SCHEMAS, schema_text

__all__ = ["main", "OUTPUT_FORMATS"]

OUTPUT_FORMATS = {".txt": "table", ".csv": "csv", ".json": "json", ".parquet": "parquet", ".html": "html"}
"""``--out`` file extensions and the format each writes."""


def _write(text: str, out: str | None) -> None:
    """Print, or write ``out`` atomically."""
    if out is None:
        sys.stdout.write(text)
    else:
        write_atomic(out, lambda path: Path(path).write_text(text, encoding="utf-8"))


def _out_format(out: str | None, allowed: tuple[str, ...], flag: str = "--out") -> str | None:
    """The format an ``--out`` path's extension names (``None`` without ``--out``); checked before
    any work: the folder must exist and the extension be one of ``allowed``."""
    if out is None:
        return None
    path = Path(out)
    fmt = OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt not in allowed:
        exts = [e for e, f in OUTPUT_FORMATS.items() if f in allowed]
        raise SpecError(flag, out, f"a file ending in {', '.join(exts)} (the format follows the extension)")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise SpecError(flag, out, f"a path in an existing folder ({parent} does not exist)")
    if path.is_dir():
        raise SpecError(flag, out, "a file path, not a folder")
    return fmt


def _with_tranches(deal_path: str, what: str):

    deal = load_deal(deal_path)
    if what == "grid" and deal.series is not None:  # a card trust series: its certificates (CONVENTIONS R2.9)
        return deal
    if deal.series is not None:
        raise SpecError("series", deal.series.name, f"a deal with tranches for {what} (a card trust series runs "
                        "with abs-engine run and grid)", file=deal._file)
    if not deal.tranches:
        raise SpecError("tranches", [], f"a deal with tranches for {what}: this deal has no tranches (abs-engine run "
                        "projects its pool)", file=deal._file)
    return deal


def _one_scenario(path: str):
    """``--scenario`` of run, price, breakeven: one scenario, not a deck."""

    if is_deck(path):
        n = len(load_deck(path))
        raise SpecError("--scenario", path, f"one scenario: this file holds a deck of {n:,} scenarios (run a deck "
                        "with abs-engine grid)")
    return path


def cmd_validate(args: argparse.Namespace) -> int:
    for path in args.files:
        data = path if isinstance(path, dict) else read_structured_file(path)  # (a dict: read from stdin)
        name = "<stdin>" if isinstance(path, dict) else path
        if isinstance(data, dict) and "collateral" in data:
            load_deal(path)
            print(f"{name}: valid deal")
        elif is_deck(data):
            print(f"{name}: valid deck of {len(load_deck(path, data))} scenarios")
        else:
            load_deck(path, data)
            print(f"{name}: valid scenario")
    return 0


def _summary_lines(res) -> list[str]:
    """The header of ``run``'s table output: the result's own display header (its tables are
    printed apart)."""
    items = card_header(res) if isinstance(res, CardResult) else run_header(res)
    width = max(len(k) for k, _ in items)
    return [f"{k:<{width}}  {v}" for k, v in items] + [""]


def _tables(res) -> dict:
    """Every table of a run, by name (:meth:`RunResult.all_tables`)."""
    return res.all_tables()


def _table_files(out: str, names) -> dict[str, str]:
    """``results.csv`` -> the pool in ``results.csv``, every other table beside it in
    ``results_<table>.csv`` (likewise ``.parquet``)."""
    path = Path(out)
    return {n: str(path if n == "pool" else path.with_name(f"{path.stem}_{n}{path.suffix}")) for n in names}


def _write_tables(tables: dict, files: dict[str, str], fmt: str) -> int:
    """Each table to its file (``csv`` or ``parquet``), each written whole or not at all."""
    for name, frame in tables.items():
        if fmt == "csv":
            write_atomic(files[name], lambda path, f=frame: f.to_csv(path, date_format="%Y-%m-%d"))
        else:
            write_atomic(files[name], lambda path, f=frame: f.reset_index().to_parquet(path))
    print(f"wrote {', '.join(files.values())}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:

    fmt = _out_format(args.out, ("table", "csv", "json", "parquet")) or args.format or "table"
    if args.out and args.format and args.format != fmt:
        raise SpecError("--format", args.format, f"the format of --out {args.out} ({fmt}), or no --format")
    res = run(args.deal, _one_scenario(args.scenario))
    if isinstance(res, CardResult):
        return _card_output(res, fmt, args.out)
    pool = res.pool  # (with collateral groups: each group's, level "group")
    if fmt in ("csv", "parquet") and args.out is not None:
        tables = _tables(res)
        return _write_tables(tables, _table_files(args.out, tables), fmt)
    if fmt == "csv":
        text = pool.to_csv(date_format="%Y-%m-%d")
        if res.waterfall is not None:
            text += "\n" + res.tranches.to_csv()
    elif fmt == "parquet":
        raise SpecError("--format", "parquet", "an --out file for Parquet (it is binary)")
    elif fmt == "json":
        records = json.loads(pool.reset_index().to_json(orient="records", date_format="iso"))
        doc = {"deal": res.deal.name, "scenario": res.scenarios[0].name,
               "check": {k: float(v) for k, v in res.check().abs().max().items()}, "pool": records}
        if res.waterfall is not None:
            for name, frame in _tables(res).items():
                if name not in ("pool", "check"):
                    doc[name] = json.loads(frame.reset_index().to_json(orient="records", date_format="iso"))
        text = json.dumps(doc, indent=1) + "\n"
    else:
        shown = pool if not pool["date"].isna().all() else pool.drop(columns="date")
        parts = ["\n".join(_summary_lines(res))]
        if res.waterfall is not None:
            parts.append("tranches (yields at par)\n" + table_text(res.summary()) + "\n")
        parts.append("pool\n" + table_text(shown) + "\n")
        text = "\n".join(parts)
    _write(text, args.out)
    return 0


def _card_output(res: CardResult, fmt: str, out: str | None) -> int:
    """``run`` on a card trust series (CONVENTIONS R2.9): its summary, checks and trust table."""
    tables = {"trust": res.trust, "summary": res.summary(), "check": res.check()}
    if fmt in ("csv", "parquet") and out is not None:
        return _write_tables(tables, {**_table_files(out, tables), "trust": out}, fmt)
    if fmt == "parquet":
        raise SpecError("--format", "parquet", "an --out file for Parquet (it is binary)")
    if fmt == "csv":
        text = tables["trust"].to_csv(date_format="%Y-%m-%d") + "\n" + tables["summary"].to_csv()
    elif fmt == "json":
        doc = {"deal": res.deal.name, "scenario": res.scenarios[0].name,
               "check": {k: float(v) for k, v in tables["check"].abs().max().items()}}
        for name in ("summary", "trust"):
            doc[name] = json.loads(tables[name].reset_index().to_json(orient="records", date_format="iso"))
        text = json.dumps(doc, indent=1) + "\n"
    else:
        trust = tables["trust"]
        if trust["date"].isna().all():
            trust = trust.drop(columns="date")
        last = int((trust["invested_amount"] > 0).sum() + 1)
        text = "\n".join(_summary_lines(res) + [
            "certificates (yield at par)", table_text(tables["summary"]), "",
            "trust", table_text(trust.iloc[:max(last, 1)]), ""])
    _write(text, out)
    return 0


def cmd_price(args: argparse.Namespace) -> int:
    _out_format(args.out, ("table",))
    res = run(_with_tranches(args.deal, "price"), _one_scenario(args.scenario))
    names = [t.name for t in res.deal.notes]
    if args.tranche is not None and args.tranche not in names:
        raise SpecError("--tranche", args.tranche, f"a class of notes of the deal ({names})")
    chosen = [args.tranche] if args.tranche else names
    price = {n: args.price for n in chosen} if args.price is not None else None
    yld = {n: args.yield_ for n in chosen} if args.yield_ is not None else None
    if price is None and yld is None:
        price = {n: 100.0 for n in chosen}
    table = res.analytics(price=price, yield_=yld, delay_days=args.delay_days).loc[chosen]
    text = (f"deal {res.deal.name}, scenario {res.scenarios[0].name}, delay {args.delay_days:g} days; "
            "yields bond-equivalent (percent), prices per 100 of original face, durations in years\n"
            + table_text(table) + "\n")
    _write(text, args.out)
    return 0


def cmd_grid(args: argparse.Namespace) -> int:
    fmt = _out_format(args.out, ("csv", "json", "parquet"))
    deal = _with_tranches(args.deal, "grid")
    res = run(deal, args.scenarios, summary_only=True)
    summary = res.summary()
    if fmt == "parquet":
        write_atomic(args.out, lambda path: summary.reset_index().to_parquet(path))
    elif fmt == "csv":
        _write(summary.to_csv(), args.out)
    elif fmt == "json":
        _write(summary.reset_index().to_json(orient="records", indent=1) + "\n", args.out)
    print(f"deal {res.deal.name}: {len(res.scenarios)} scenarios; across scenarios, per tranche "
          "(loss = writedowns / original face; yield at par):")
    print(table_text(res.distribution()))
    return 0


def cmd_breakeven(args: argparse.Namespace) -> int:
    _out_format(args.out, ("table",))
    table = breakevens(_with_tranches(args.deal, "breakevens"), _one_scenario(args.scenario), kind=args.kind,
                       yield_floor=args.yield_floor, price=args.price)
    upper = table.attrs["upper"]
    shown = {}
    for col in [c for c in table.columns if not c.endswith("_beyond_range")]:
        fmt = formatter(col)
        beyond = f">= {fmt(upper)} (no breakeven in range)"
        shown[col] = [beyond if out else fmt(x) for x, out in zip(table[col], table[f"{col}_beyond_range"],
                                                                    strict=True)]
    unit = {"cdr": "CDR, percent", "sda": "percent of the SDA curve", "scale": "multiple of the scenario's defaults"}
    text = (f"highest {args.kind} ({unit[args.kind]}) with no writedown"
            + (f"; with yield >= {args.yield_floor:.4%} at price {args.price:g}" if args.yield_floor is not None
               else "") + f"; searched 0 to {formatter(table.columns[0])(upper)}\n"
            + table[[]].assign(**shown).to_string() + "\n")
    _write(text, args.out)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    fmt = _out_format(args.out, ("table", "csv", "json"))
    deal = _with_tranches(args.deal, "compare")
    table = compare(args.scenario, deal=deal)
    if fmt == "csv":
        _write(table.to_csv(), args.out)
    elif fmt == "json":
        _write(table.reset_index().to_json(orient="records", indent=1) + "\n", args.out)
    else:
        _write(f"deal {deal.name}: {table.shape[1]} scenarios side by side (yields at par; loss = writedowns / "
               "original face)\n"
               + table_text(table) + "\n", args.out)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    deal = load_deal(args.deal)
    if args.diagram is not None:
        path = Path(args.diagram)
        suffix = path.suffix.lower()
        if suffix not in (".dot", ".mmd", ".svg", ".png"):
            raise SpecError("--diagram", args.diagram, "a file ending in .dot (Graphviz), .mmd (Mermaid), .svg or .png")
        if not (path.parent if str(path.parent) else Path(".")).is_dir():
            raise SpecError("--diagram", args.diagram, f"a path in an existing folder ({path.parent} does not exist)")
        d = deal.diagram()
        content = {".dot": lambda: d.dot, ".mmd": lambda: d.mermaid, ".svg": d.svg, ".png": d.png}[suffix]()
        data = content.encode("utf-8") if isinstance(content, str) else content
        write_atomic(args.diagram, lambda tmp: Path(tmp).write_bytes(data))
    _write(deal.describe() + "\n", args.out)
    if args.diagram is not None:
        print(f"wrote {args.diagram}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:

    _out_format(args.out, ("json",))
    _write(schema_text(args.what), args.out)
    return 0


def cmd_distribute(args: argparse.Namespace) -> int:

    servicer = Servicer(args.deal, args.ledger, base_scenario=args.base_scenario)
    rep = servicer.distribute(args.collections)
    pool = rep.pool
    lines = [f"deal {rep.data['deal']}: period {rep.period}, paid {rep.data['payment_date']}; "
             f"pool {pool['beginning_balance']:,.2f} -> {pool['ending_balance']:,.2f}; "
             f"interest collected {pool['gross_interest']:,.2f}, principal "
             f"{pool['scheduled_principal'] + pool['prepayment'] + pool['recovery']:,.2f}, "
             f"net loss {pool['loss']:,.2f}",
             table_text(rep.tranches),
             f"reconciliation residuals: {', '.join(f'{k} {v:.2e}' for k, v in rep.check.items())}",
             f"recorded in {args.ledger}: report hash {rep.hash}"]
    _write("\n".join(lines) + "\n", None)
    return 0


def cmd_project(args: argparse.Namespace) -> int:
    fmt = _out_format(args.out, ("table", "csv", "json", "parquet")) or "table"
    servicer = Servicer(args.deal, args.ledger)
    res = servicer.project(args.scenario, summary_only=args.summary_only)
    summary = res.summary()
    first = getattr(res, "first_period", None)
    head = (f"deal {servicer.deal.name}: re-projected from the ledger {args.ledger} "
            + (f"(periods {first} to {first + res.n_periods - 1}); " if first is not None else "; ")
            + f"{len(res.scenarios)} scenario(s); WAL in years from now, yields at par of each class's balance now")
    if fmt in ("csv", "parquet") and args.out is not None:
        tables = {"summary": summary} if args.summary_only else _tables(res)
        files = _table_files(args.out, tables)
        if args.summary_only:
            files["summary"] = args.out
        return _write_tables(tables, files, fmt)
    if fmt == "json":
        doc = {"deal": servicer.deal.name, "first_period": first,
               "summary": json.loads(summary.reset_index().to_json(orient="records"))}
        _write(json.dumps(doc, indent=1) + "\n", args.out)
        return 0
    shown = res.distribution() if len(res.scenarios) > 1 else summary
    _write(head + "\n" + table_text(shown) + "\n", args.out)
    return 0


def cmd_advance(args: argparse.Namespace) -> int:
    out = Path(args.out)
    safe = Path(args.safe_folder) if args.safe_folder else out / "safe"
    rows = run_bot(Servicer(args.deal, args.ledger), args.collections, args.holders, out, SafeFiles(safe))
    lines = [f"deal {load_deal(args.deal).name}: {len(rows)} instruction(s) in {args.ledger}"]
    for r in rows:
        note = {"submitted": "pending: sign and execute the Safe batch, then export its transfers to "
                             f"{safe}/period_{r['period']}_chain_{r['chain_id']}_observed.json"}.get(r["status"], "")
        lines.append(f"  period {r['period']}, chain {r['chain_id']}: {r['status']} {note}".rstrip())
    _write("\n".join(lines) + "\n", None)
    return 0


def cmd_feed(args: argparse.Namespace) -> int:
    fmt = _out_format(args.out, ("json",))
    feeds = None
    if args.feeds is not None:
        data = read_structured_file(args.feeds)
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise SpecError("", type(data).__name__, "a mapping of token address -> feed contract address",
                            file=args.feeds)
        feeds = data
    key = None
    if args.key_file is not None:
        key = Path(args.key_file).read_text().strip()
        if not (key.startswith("0x") and len(key) == 66):
            raise SpecError("--key-file", args.key_file, "a file holding one 0x-prefixed 32-byte private key")
    if key is not None and feeds is None:
        raise SpecError("--feeds", None, "the feed contracts to sign for (--key-file signs each token's report)")
    servicer = Servicer(args.deal, args.ledger)
    doc = feed_reports(servicer, args.holders, period=args.period, pricing=args.pricing_scenario,
                       yield_=args.yield_, decimals=args.decimals, feeds=feeds, key=key)
    _write(json.dumps(doc, indent=2) + "\n", args.out if fmt else None)
    if args.out:
        signed = sum("signature" in r for r in doc["reports"])
        print(f"wrote {args.out}: period {doc['period']}, {len(doc['reports'])} token(s), {signed} signed")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    fmt = _out_format(args.out, ("html", "json"))
    servicer = Servicer(args.deal, args.ledger, base_scenario=args.base_scenario)
    content = servicer.investor_report(args.period)
    if fmt == "json":
        _write(json.dumps(content, indent=1) + "\n", args.out)
        print(f"wrote {args.out}: period {content['period']}")
        return 0
    page = render_html(content)
    typed = report_attestation(content, page, chain_id=args.chain_id)
    attestation = {"typed_data": typed}
    if args.key_file is not None:
        attestation["signature"] = sign(typed, Path(args.key_file).read_text().strip())
    side = str(Path(args.out).with_suffix(".attestation.json"))
    write_atomic(args.out, lambda path: Path(path).write_bytes(page.encode("utf-8")))
    _write(json.dumps(attestation, indent=2) + "\n", side)
    print(f"wrote {args.out} (keccak {typed['message']['documentHash']}) and {side}: period {content['period']}")
    return 0


def cmd_ledger(args: argparse.Namespace) -> int:

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
        fmt = _out_format(args.out, ("table", "json"))
        if fmt == "json" and not args.typed_data:
            raise SpecError("--out", args.out, "a .txt file (or --typed-data for .json)")
        ledger = Ledger.open(args.file)
        head = ledger.head()
        if args.typed_data:

            _write(json.dumps(head_typed_data(head, chain_id=args.chain_id), indent=2) + "\n", args.out)
        else:
            _write(f"deal {head['deal_id']}\nseq {head['seq']}\nperiod {head['period']}\nhead {head['hash']}\n", args.out)
        return 0
    if args.action in ("speeds", "bands"):
        if args.deal is None:
            raise SpecError("--deal", None, f"the deal file ({args.action} reads its loans)")
        servicer = Servicer(args.deal, args.file)
        if args.action == "speeds":
            table = servicer.speeds()
        elif args.deck is None:
            raise SpecError("--deck", None, "a deck (e.g. Monte Carlo) whose distribution the actuals are placed in")
        else:
            table = servicer.bands(args.deck)
        _write(table_text(table) + "\n", args.out)
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

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise SpecError("--out", args.out, "a folder for the instruction files (this is a file)")
    if not (out.parent if str(out.parent) else Path(".")).is_dir():
        raise SpecError("--out", args.out, f"a folder whose parent exists ({out.parent} does not)")
    ledger = Ledger.open(args.ledger)
    current = ledger.current()
    if args.period not in current:
        raise LedgerError(f"period {args.period} is not recorded in {args.ledger}")
    report = PeriodReport.from_json(current[args.period].report)
    s = settle(report, args.holders, ledger=ledger, override_reason=args.override_reason)
    files = {f"period_{s.period}_settlement.json": s.summary()}
    for ins in s.instructions:
        stem = f"period_{s.period}_chain_{ins.chain_id}"
        if args.format == "calldata":
            files[f"{stem}_calldata.json"] = calldata(ins)
        elif args.format == "safe":
            files[f"{stem}_safe_batch.json"] = safe_batch(ins)
        else:
            files[f"{stem}_merkle.json"] = merkle_claims(ins)
    texts = {name: json.dumps(content, indent=2) + "\n" for name, content in files.items()}
    record(ledger, s)   # recorded before anything is written: an output set always has its ledger entry
    write_file_set(out, texts)
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


class _Parser(argparse.ArgumentParser):
    """argparse, with every usage mistake reported as one line and exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Once(argparse.Action):
    """A single-valued flag: given twice, it is an error (argparse would keep the last)."""

    def __call__(self, parser, namespace, values, option_string=None):
        if getattr(namespace, "_given_" + self.dest, False):
            parser.error(f"argument {option_string}: given more than once")
        setattr(namespace, "_given_" + self.dest, True)
        setattr(namespace, self.dest, values)


class _OnceTrue(_Once):
    def __init__(self, option_strings, dest, **kw):
        super().__init__(option_strings, dest, nargs=0, default=False, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        super().__call__(parser, namespace, True, option_string)


def _finite(text: str) -> float:
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a number") from None
    if not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a finite number")
    return x


def _price(text: str) -> float:
    x = _finite(text)
    if not 0 < x <= 1000:
        raise argparse.ArgumentTypeError(f"got {text}, expected a price per 100 of face in (0, 1000]")
    return x


def _yield(text: str) -> float:
    x = _finite(text)
    if not -1.99 <= x <= 1.0:
        hint = f"; did you mean {x / 100:g}?" if 1.0 < x <= 100.0 else ""
        raise argparse.ArgumentTypeError(f"got {text}, expected a decimal yield in [-1.99, 1] (4.5% is 0.045){hint}")
    return x


def _days(text: str) -> float:
    x = _finite(text)
    if not 0 <= x <= 366:
        raise argparse.ArgumentTypeError(f"got {text}, expected a payment delay in days in [0, 366]")
    return x


def _positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1 or len(text.strip()) > 18:
        raise argparse.ArgumentTypeError(f"got {text!r}, expected a whole number >= 1")
    return int(text)


EXAMPLES = {
    "validate": "abs-engine validate tranches/auto_prime_abs.yaml scenarios/auto_base.yaml scenarios/auto_grid.yaml",
    "run": "abs-engine run tranches/auto_prime_abs.yaml --scenario scenarios/auto_base.yaml",
    "price": "abs-engine price tranches/auto_prime_abs.yaml --scenario scenarios/auto_base.yaml --tranche A-2b "
             "--price 99.5",
    "grid": "abs-engine grid tranches/auto_prime_abs.yaml --scenarios scenarios/auto_grid.yaml --out grid.parquet",
    "compare": "abs-engine compare tranches/auto_prime_abs.yaml --scenario scenarios/auto_base.yaml "
               "--scenario scenarios/auto_stress.yaml",
    "breakeven": "abs-engine breakeven tranches/auto_prime_abs.yaml --scenario scenarios/auto_base.yaml "
                 "--yield-floor 0.04",
    "explain": "abs-engine explain tranches/auto_prime_abs.yaml --diagram auto.svg",
    "distribute": "abs-engine distribute tranches/nonagency_rmbs.yaml --collections "
                  "tranches/data/servicing/nonagency_rmbs/period_1.yaml --ledger deal.db",
    "advance": "abs-engine advance tranches/nonagency_rmbs.yaml --ledger deal.db --collections "
               "tranches/data/servicing/nonagency_rmbs --holders tranches/data/settlement/nonagency_rmbs.yaml "
               "--out instructions",
    "feed": "abs-engine feed tranches/nonagency_rmbs.yaml --ledger deal.db --holders "
            "tranches/data/settlement/nonagency_rmbs.yaml --out feed.json",
    "report": "abs-engine report tranches/nonagency_rmbs.yaml --ledger deal.db --out report.html",
    "project": "abs-engine project tranches/nonagency_rmbs.yaml --ledger deal.db --scenario scenarios/stress.yaml",
    "ledger": "abs-engine ledger verify deal.db --deal tranches/nonagency_rmbs.yaml",
    "settle": "abs-engine settle --ledger deal.db --period 1 --holders tranches/data/settlement/nonagency_rmbs.yaml "
              "--format safe --out instructions",
    "schema": "abs-engine schema deal --out deal.schema.json",
}
"""One example per command, shown in its ``--help`` (each parses: tests/test_cli_help.py)."""

_DESCRIPTION = """\
Asset-backed securities cash flows, from the deal on paper to onchain payouts.

structurers:  validate, run, price, grid, compare, breakeven, explain, schema
servicers:    distribute, project, report, ledger
bots:         settle, advance, feed

Files are YAML or JSON; '-' reads one of them from standard input. Yields and rates are decimals
on the command line (0.045 is 4.5%) and in data files, percent in printed tables.
Exit codes: 0 success, 1 a verification found a mismatch, 2 bad input (one line naming the file,
the field and the value; nothing written), 3 a ledger error, 4 notes not backed."""


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="abs-engine", description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
                epilog="'abs-engine COMMAND --help' shows each command's arguments and an example.")
    p.add_argument("--version", action="version", version=f"abs-engine {version('abs-engine')}",
                   help="print the installed version and exit")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    def command(name: str, help_: str, fn, description: str | None = None):
        c = sub.add_parser(name, help=help_, description=(description or help_[:1].upper() + help_[1:]) + ".",
                           epilog=f"example:\n  {EXAMPLES[name]}", formatter_class=argparse.RawDescriptionHelpFormatter)
        c.set_defaults(fn=fn)
        return c

    def once(parser_, *names, **kw):
        return parser_.add_argument(*names, action=_Once, **kw)

    deal_help = "the deal file (YAML or JSON; - for standard input)"
    v = command("validate", "check deal, scenario and deck files without running them", cmd_validate)
    v.add_argument("files", nargs="+", metavar="FILE", help="deal, scenario or deck files (YAML or JSON; - for "
                                                             "standard input)")
    r = command("run", "project a deal under one scenario: summary, checks and the pool table", cmd_run)
    r.add_argument("deal", help=deal_help)
    once(r, "--scenario", required=True, help="one scenario file (a deck runs with abs-engine grid)")
    once(r, "--format", choices=("table", "csv", "json"), help="what to print (with --out: the file's extension)")
    once(r, "--out", help="write here instead of stdout: .txt (table), .json (every table), .csv or .parquet (the "
                          "pool in FILE, every other table beside it as FILE_<table>)")
    pr = command("price", "yield from price (or price from yield), WAL, duration, convexity and DM per class",
                 cmd_price)
    pr.add_argument("deal", help=deal_help)
    once(pr, "--scenario", required=True, help="one scenario file")
    once(pr, "--tranche", help="one class of notes (default: all)")
    given = pr.add_mutually_exclusive_group()
    given.add_argument("--price", type=_price, action=_Once, help="price per 100 of original face (default: 100)")
    given.add_argument("--yield", dest="yield_", type=_yield, action=_Once,
                       help="bond-equivalent yield, decimal (0.05 is 5%%)")
    once(pr, "--delay-days", type=_days, default=0.0, help="payment delay in days (default 0)")
    once(pr, "--out", help="write the table here (.txt)")
    g = command("grid", "run a deck of scenarios (grid or Monte Carlo): each class's distribution across them",
                cmd_grid)
    g.add_argument("deal", help=deal_help)
    once(g, "--scenarios", required=True, help="a deck file (grid, monte_carlo or a scenarios list)")
    once(g, "--out", help="per-scenario summaries as .parquet, .csv or .json")
    cp = command("compare", "run a deal under several scenarios and print their summaries side by side",
                 cmd_compare)
    cp.add_argument("deal", help=deal_help)
    cp.add_argument("--scenario", action="append", required=True, metavar="SCENARIO",
                    help="a scenario file; give it once per scenario (a deck file adds all of its scenarios)")
    once(cp, "--out", help="write the table here: .txt, .csv or .json")
    be = command("breakeven", "default levels at which each class first loses principal (and its yield falls to a "
                              "floor)", cmd_breakeven)
    be.add_argument("deal", help=deal_help)
    once(be, "--scenario", required=True, help="one scenario: the base whose default level is solved for")
    once(be, "--kind", choices=("cdr", "sda", "scale"), default="cdr",
         help="what to solve for: a constant CDR, an SDA multiple, or a multiple of the scenario's own defaults "
              "(default cdr)")
    once(be, "--yield-floor", type=_yield, help="also the level where the yield falls to this (decimal)")
    once(be, "--price", type=_price, default=100.0, help="price for the yield breakeven (default 100)")
    once(be, "--out", help="write the table here (.txt)")
    ex = command("explain", "print a deal's capital structure and priority of payments as a tree; draw it",
                 cmd_explain)
    ex.add_argument("deal", help=deal_help)
    once(ex, "--diagram", help="also draw the structure: .dot (Graphviz), .mmd (Mermaid), or .svg/.png (rendered "
                               "by Graphviz's dot, which must be installed)")
    once(ex, "--out", help="write the tree here (.txt) instead of stdout")
    d = command("distribute", "distribute a period from the servicer's collections and record it in the ledger",
                cmd_distribute)
    d.add_argument("deal", help=deal_help)
    once(d, "--collections", required=True, help="the servicer report (YAML/JSON; a loan tape beside it; - for "
                                                 "standard input)")
    once(d, "--ledger", required=True, help="the SQLite ledger (created on first use)")
    once(d, "--base-scenario", help="a scenario to compare the period with (the variance; default: none)")
    ad = command("advance", "the settlement bot: every period whose collections are present, distributed, "
                            "settled, submitted, confirmed and reconciled (resumable)", cmd_advance)
    ad.add_argument("deal", help=deal_help)
    once(ad, "--ledger", required=True, help="the SQLite ledger (created on first use)")
    once(ad, "--collections", required=True, help="a folder of collections files, one per period (YAML/JSON)")
    once(ad, "--holders", required=True, help="settlement inputs: payment token, sources, snapshots")
    once(ad, "--out", required=True, help="a folder: each period's instruction files go to period_<p>/")
    once(ad, "--safe-folder", help="where Safe batches are written and their executed transfers read back "
                                   "(default: OUT/safe)")
    fd = command("feed", "NAV per token (and par factor) for oracle feeds: AggregatorV3 rounds, EIP-712-signed "
                         "with a key", cmd_feed)
    fd.add_argument("deal", help=deal_help)
    once(fd, "--ledger", required=True, help="the SQLite ledger")
    once(fd, "--holders", required=True, help="settlement inputs: each tranche token's supply per chain")
    once(fd, "--period", type=_positive_int, help="a recorded period (default: the latest)")
    once(fd, "--pricing-scenario", help="value at the price under this scenario (default: par)")
    once(fd, "--yield", dest="yield_", type=_yield, help="with --pricing-scenario: the yield priced at (decimal)")
    once(fd, "--decimals", type=int, default=8, help="the answers' decimals (default 8)")
    once(fd, "--feeds", help="YAML/JSON: token address -> its feed contract (for the typed data)")
    once(fd, "--key-file", help="a file holding the signer's private key: each report is signed")
    once(fd, "--out", help="write the feed here (.json) instead of stdout")
    rp = command("report", "the monthly investor report of a recorded period: a self-contained HTML page (and its "
                           "attestation) or JSON", cmd_report)
    rp.add_argument("deal", help=deal_help)
    once(rp, "--ledger", required=True, help="the SQLite ledger")
    once(rp, "--period", type=_positive_int, help="a recorded period (default: the latest)")
    once(rp, "--base-scenario", help="the scenario the variance section projects the period with (default: none)")
    once(rp, "--out", required=True, help="report.html (with report.attestation.json beside it) or report.json")
    once(rp, "--chain-id", type=_positive_int, default=1, help="the attestation's EIP-712 domain chain id")
    once(rp, "--key-file", help="a file holding a private key: the attestation is signed")
    pj = command("project", "re-project the rest of a deal's life from its ledger's latest recorded period",
                 cmd_project)
    pj.add_argument("deal", help=deal_help)
    once(pj, "--ledger", required=True, help="the SQLite ledger whose latest recorded state is the start")
    once(pj, "--scenario", required=True, help="a scenario or a deck (grid, Monte Carlo), in the deal's months")
    pj.add_argument("--summary-only", action=_OnceTrue, help="per-scenario summaries only (any number of scenarios)")
    once(pj, "--out", help="write here: .csv or .parquet (every table, or the summary), .json (the summary), .txt")
    lg = command("ledger", "show a ledger, print its chain head, verify it, or read its measured speeds and bands",
                 cmd_ledger)
    lg.add_argument("action", choices=("show", "head", "verify", "speeds", "bands"),
                    help="show: the periods; head: the chain head (seq, period, hash) to keep outside the ledger; "
                         "verify: the hash chain (and with --deal every period recomputed); speeds: measured "
                         "speeds over 1, 3, 6, 12 months and life (--deal); bands: each period's actuals in a "
                         "deck's distribution (--deal, --deck)")
    lg.add_argument("file", help="the SQLite ledger")
    once(lg, "--deal", help="verify: recompute every period with this deal (else the hash chain only); speeds, "
                            "bands: the deal")
    once(lg, "--deck", help="bands: the deck projected from the cut-off")
    once(lg, "--head", help="verify: a head hash kept outside the ledger; rows removed after it, or rewritten, "
                            "are found")
    lg.add_argument("--typed-data", action=_OnceTrue, help="head: print it as EIP-712 typed data to sign")
    once(lg, "--chain-id", type=_positive_int, default=1, help="head --typed-data: the EIP-712 domain's chain id")
    once(lg, "--out", help="head, speeds, bands: write here (.txt; head --typed-data: .json) instead of stdout")
    st = command("settle", "allocate a recorded period to token holders and write its onchain instructions",
                 cmd_settle)
    once(st, "--ledger", required=True, help="the SQLite ledger the period is recorded in")
    once(st, "--period", type=_positive_int, required=True, help="the period to settle")
    once(st, "--holders", required=True, help="settlement inputs: payment token, sources, snapshots (- for "
                                              "standard input)")
    once(st, "--format", choices=("calldata", "safe", "merkle"), default="safe",
         help="ERC-20 and batch-distributor calldata, a Safe Transaction Builder batch, or Merkle claims "
              "(default safe)")
    once(st, "--out", required=True, help="folder for the instruction files (created if missing)")
    once(st, "--override-reason", help="emit although the notes are not backed, for this stated reason")
    sc = command("schema", "print a spec's JSON Schema (the same files ship in abs_engine/schemas/)", cmd_schema)
    sc.add_argument("what", choices=SCHEMAS, nargs="?", default="deal", help="which spec (default deal)")
    once(sc, "--out", help="write the schema here (.json)")
    return p


STDIN_ARGS = ("deal", "scenario", "scenarios", "collections", "holders", "deck", "base_scenario", "pricing_scenario",
              "feeds", "files")
"""Arguments where ``-`` reads the file from standard input (one of them per command)."""


def _read_stdin(args: argparse.Namespace) -> bool:
    """Replace a ``-`` argument by the YAML or JSON read from standard input (once); whether one was."""
    used = False
    for name in STDIN_ARGS:
        value = getattr(args, name, None)
        values = value if isinstance(value, list) else [value]
        if "-" not in values:
            continue
        if used or values.count("-") > 1:
            raise SpecError(f"--{name.replace('_', '-')}", "-", "standard input for one file only")
        text = sys.stdin.read(MAX_SPEC_BYTES + 1)
        if len(text.encode("utf-8")) > MAX_SPEC_BYTES:
            raise SpecError("", "standard input", f"at most {MAX_SPEC_BYTES:,} bytes", file="<stdin>")
        data = parse_structured_text(text, json_format=text.lstrip().startswith("{"), file="<stdin>")
        parsed = [data if v == "-" else v for v in values]
        setattr(args, name, parsed if isinstance(value, list) else parsed[0])
        used = True
    return used


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"abs-engine: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    stdin = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", SpecWarning)
            warnings.showwarning = _show_warning
            stdin = _read_stdin(args)
            return args.fn(args)
    except SpecError as exc:
        if stdin and exc.file is None:  # a spec read from standard input
            exc = exc.with_file("<stdin>")
        print(f"abs-engine: error: {exc}", file=sys.stderr)
        return 2
    except LedgerError as exc:
        print(f"abs-engine: ledger: {exc}", file=sys.stderr)
        return 3
    except sqlite3.DatabaseError as exc:
        print(f"abs-engine: ledger: {exc}", file=sys.stderr)
        return 3
    except BackingError as exc:
        print(f"abs-engine: not backed: {exc}", file=sys.stderr)
        return 4
    except OSError as exc:  # a file the command was pointed at cannot be read or written
        print(f"abs-engine: error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
