"""A deal's life after closing: a period distributed from actual collections (``servicer``), the
period report (``reports``), the hash-chained ledger (``ledger``) and signed attestations
(``attestation``)."""
