"""Peak resident memory of a loan-level projection beyond the tape itself (run as a subprocess).

    python benchmarks/_memory_probe.py N   ->  prints JSON
"""

import json
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.pools import synthetic_loans, tape_deal  # noqa: E402

import abs_engine as ae  # noqa: E402

SCENARIO = {"prepay": {"psa": 150}, "default": {"sda": 100}, "severity": 0.35, "recovery_lag": 12}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    n = int(sys.argv[1])
    ae.run(tape_deal(synthetic_loans(1000)), SCENARIO)  # load the JIT cache and thread pool first
    loans = synthetic_loans(n)
    tape_mb = sum(getattr(loans, f).nbytes for f in ("balance", "rate", "net_rate", "remaining_term", "age",
                                                      "original_term", "amortization", "balloon_month", "status"))
    tape_mb = tape_mb / 2**20
    before = peak_mb()
    res = ae.run(tape_deal(loans), SCENARIO)
    after = peak_mb()
    print(json.dumps({"loans": n, "tape_mb": tape_mb, "peak_before_mb": before, "peak_after_mb": after,
                      "added_mb": after - before}))


if __name__ == "__main__":
    main()
