"""Time and peak memory of a summary-only run of the auto deal over a grid deck of N scenarios
(run as a subprocess, so memory is the run's).

    python benchmarks/_million_probe.py N CHUNK  ->  prints JSON
"""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import abs_engine as ae  # noqa: E402
from benchmarks._memory_probe import reset_peak, status_mb  # noqa: E402
from benchmarks.test_bench_scenarios import DEAL, _deck  # noqa: E402


def main() -> None:
    n, chunk = int(sys.argv[1]), int(sys.argv[2])
    deal = ae.load_deal(DEAL)
    ae.run(deal, _deck(4096), summary_only=True, progress=False, chunk_size=chunk).summary()  # JIT cache, threads
    before = status_mb("VmRSS")
    reset_peak()
    t = time.perf_counter()
    table = ae.run(deal, _deck(n), summary_only=True, progress=False, chunk_size=chunk).summary()
    seconds = time.perf_counter() - t
    out_mb = (table.memory_usage(index=False).sum() + table.index.levels[0].memory_usage(deep=True)
              + sum(c.nbytes for c in table.index.codes)) / 2**20
    print(json.dumps({"scenarios": len(table) // len(deal.tranches), "seconds": seconds, "table_mb": out_mb,
                      "added_mb": status_mb("VmHWM") - before}))


if __name__ == "__main__":
    main()
