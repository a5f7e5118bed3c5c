"""What a run returns: tables (``tables``: :class:`RunResult`, :class:`SummaryResult`), BMA
section G analytics (``analytics``) and plots (``plots``)."""
