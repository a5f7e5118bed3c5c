"""Time and peak memory of loading a Parquet loan tape (run as a subprocess, so memory is the load's).

    python benchmarks/_tape_probe.py TAPE engine|pandas  ->  prints JSON

``engine``: ``ae.read_tape``, which reads and validates it (what compiling a deal on the tape
does); ``pandas``: ``pd.read_parquet`` of the same file, the plain way in, which validates
nothing and holds ``loan_id`` as Python strings.
"""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

import abs_engine as ae  # noqa: E402
from benchmarks._memory_probe import reset_peak, status_mb  # noqa: E402

FIELDS = ("loan_id", "balance", "rate", "net_rate", "remaining_term", "age", "original_term", "amortization",
          "balloon_month", "status")


def main() -> None:
    tape, how = Path(sys.argv[1]), sys.argv[2]
    small = tape.with_name("small-" + tape.name)
    ae.read_tape(small)  # the kernels, pyarrow and pandas loaded before measuring
    pd.read_parquet(small)
    before = status_mb("VmRSS")
    reset_peak()
    t = time.perf_counter()
    if how == "engine":
        loans = ae.read_tape(tape)
        arrays_mb = sum(getattr(loans, f).nbytes for f in FIELDS) / 2**20
        n = len(loans)
    else:
        frame = pd.read_parquet(tape)
        arrays_mb = frame.memory_usage(deep=True).sum() / 2**20
        n = len(frame)
    seconds = time.perf_counter() - t
    print(json.dumps({"loans": n, "seconds": seconds, "arrays_mb": arrays_mb,
                      "added_mb": status_mb("VmHWM") - before}))


if __name__ == "__main__":
    main()
