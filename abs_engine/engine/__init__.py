"""Running compiled programs: the pool (``collateral``), the waterfall (``waterfall``), full runs
(``full``), summary-only runs (``summaries``, with the generated period of ``codegen``), chunks on
executors (``executors``, ``chunks``), breakevens (``breakeven``), and ``run``, the entry point."""
