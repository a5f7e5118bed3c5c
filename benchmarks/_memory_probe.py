"""Peak resident memory of a loan-level projection beyond the tape itself (run as a subprocess).

    python benchmarks/_memory_probe.py N   ->  prints JSON
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import abs_engine as ae  # noqa: E402
from benchmarks.pools import synthetic_loans, tape_deal  # noqa: E402

SCENARIO = {"prepay": {"psa": 150}, "default": {"sda": 100}, "severity": 0.35, "recovery_lag": 12}


def status_mb(key: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) from /proc/self/status, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0
    raise KeyError(key)


def reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0: write 5 to clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


def main() -> None:
    n = int(sys.argv[1])
    ae.run(tape_deal(synthetic_loans(1000)), SCENARIO)  # load the JIT cache and thread pool first
    loans = synthetic_loans(n)
    tape_mb = sum(getattr(loans, f).nbytes for f in ("balance", "rate", "net_rate", "remaining_term", "age",
                                                      "original_term", "amortization", "balloon_month", "status"))
    tape_mb = tape_mb / 2**20
    before = status_mb("VmRSS")
    reset_peak()
    res = ae.run(tape_deal(loans), SCENARIO)
    after = status_mb("VmHWM")
    assert res.flows.shape[1] == 360
    print(json.dumps({"loans": n, "tape_mb": tape_mb, "rss_before_mb": before, "peak_during_mb": after,
                      "added_mb": after - before}))


if __name__ == "__main__":
    main()
