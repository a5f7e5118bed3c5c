"""Write the example holder snapshots and allow list of the non-agency RMBS deal's tranche tokens
(``tranches/data/settlement/``): A-1 on Ethereum and Base, M-1, B-3 and the residual R on Base.
Addresses are derived from fixed seeds, so the files are stable.

    python scripts/make_holders.py
"""

from __future__ import annotations

from pathlib import Path

import yaml
from eth_utils import keccak, to_checksum_address

OUT = Path(__file__).resolve().parents[1] / "tranches/data/settlement"


def address(seed: str) -> str:
    return to_checksum_address(keccak(text=seed)[-20:])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    e18 = 10**18
    books = {  # tranche -> chain -> [(holder seed, balance)]
        "A-1": {1: [("pension-fund", 300_000_000 * e18), ("insurer", 212_957_368 * e18),
                    ("bank-treasury", 150_000_000 * e18)],
                8453: [("dao-treasury", 100_000_000 * e18), ("market-maker", 50_000_000 * e18)]},
        "M-1": {8453: [("credit-fund", 27_821_021 * e18), ("family-office", 20_000_000 * e18)]},
        "B-3": {8453: [("hedge-fund", 19_128_412_020_000_000_000_000_000 - 3 * e18), ("unverified-wallet", 3 * e18)]},
        "R": {8453: [("sponsor", 1_000_000 * e18)]},
    }
    tranches = []
    for name, chains in books.items():
        snaps = []
        for chain, rows in chains.items():
            file = f"holders_{name}_{chain}.csv"
            lines = ["address,balance"] + [f"{address(s)},{b}" for s, b in rows]
            (OUT / file).write_text("\n".join(lines) + "\n")
            snaps.append({"chain_id": chain, "token": address(f"token-{name}-{chain}"), "decimals": 18,
                          "record_block": 21_000_000 if chain == 1 else 23_000_000,
                          "total_supply": str(sum(b for _, b in rows)), "holders": file})
        tranches.append({"tranche": name, "snapshots": snaps})
    every = [s for chains in books.values() for rows in chains.values() for s, _ in rows]
    allow = ["address,identity,country,verified"] + [
        f"{address(s)},{address('identity-' + s)},{840 if k % 2 else 276},{str(s != 'unverified-wallet').lower()}"
        for k, s in enumerate(every)]
    (OUT / "allow_list.csv").write_text("\n".join(allow) + "\n")
    spec = {
        "deal": "Non-agency RMBS 2026-1",
        "payment_token": {"symbol": "USDC", "decimals": 6,
                          "addresses": {1: "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
                                        8453: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"}},
        "source": {1: address("distributor-1"), 8453: address("distributor-8453")},
        "allow_list": "allow_list.csv",
        "tranches": tranches,
    }
    (OUT / "nonagency_rmbs.yaml").write_text(
        "# Settlement inputs of the non-agency RMBS example, written by scripts/make_holders.py\n"
        + yaml.safe_dump(spec, sort_keys=False))


if __name__ == "__main__":
    main()
