"""Settlement: exact integer payouts, checks before emission, canonical instructions and their
renderings, executed against real Vyper contracts in an in-process EVM (titanoboa)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import boa
import pytest
from eth.exceptions import Revert
from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

import abs_engine as ae
from abs_engine.servicing.ledger import Ledger
from abs_engine.servicing.servicer import deal_id
from abs_engine.settlement import renderings as onchain
from abs_engine.settlement.allocation import period_amounts, split_largest_remainder
from abs_engine.settlement.instruction import BackingError, settle
from abs_engine.settlement.lifecycle import advance, reconcile, record
from abs_engine.settlement.merkle import StandardMerkleTree, leaf_hash, verify_proof

ROOT = Path(__file__).resolve().parents[2]
AUTO = ROOT / "tranches/auto_prime_abs.yaml"
SCEN = {"prepay": {"abs": 1.5}, "default": {"cdr": 0.02}, "severity": 0.5, "recovery_lag": 3,
        "rates": {"SOFR": 0.043}, "exercise_call": False}
E18 = 10**18


def addr(seed) -> str:
    return to_checksum_address(keccak(text=str(seed))[-20:])


@pytest.fixture(scope="module")
def projection():
    return ae.run(AUTO, SCEN)


def spec(token1=None, token8453=None, source1=None, source8453=None, allow=None, holders=None, **token):
    """A settlement spec for the auto deal: A-1 on chains 1 and 8453, A-2a and B on 8453."""
    holders = holders or {
        ("A-1", 1): [(addr("a"), 60_000_000 * E18), (addr("b"), 20_000_000 * E18)],
        ("A-1", 8453): [(addr("c"), 30_000_000 * E18)],
        ("A-2a", 8453): [(addr("a"), 50_000_000 * E18), (addr("d"), 45_000_000 * E18)],
        ("B", 8453): [(addr("e"), 7 * E18), (addr("f"), 9_999_993 * E18)],
    }
    tranches = {}
    for (t, chain), rows in holders.items():
        tranches.setdefault(t, []).append({
            "chain_id": chain, "token": addr(f"token-{t}-{chain}"), "decimals": 18, "record_block": 100,
            "total_supply": str(sum(b for _, b in rows)), "holders": [[a, str(b)] for a, b in rows]})
    return {"deal": "Prime Auto Owner Trust 2026-A",
            "payment_token": {"symbol": "USDC", "decimals": 6, **token,
                              "addresses": {1: token1 or addr("usdc-1"), 8453: token8453 or addr("usdc-8453")}},
            "source": {1: source1 or addr("dist-1"), 8453: source8453 or addr("dist-8453")},
            "allow_list": allow,
            "tranches": [{"tranche": t, "snapshots": s} for t, s in tranches.items()]}


# ---------------------------------------------------------------- integers (hypothesis)


@given(st.integers(0, 10**30), st.lists(st.integers(0, 10**27), min_size=1, max_size=40).filter(lambda w: sum(w) > 0))
def test_largest_remainder_is_exact_and_fair(total, weights):
    shares = split_largest_remainder(total, weights)
    assert sum(shares) == total and all(s >= 0 for s in shares)
    s = sum(weights)
    for w, x in zip(weights, shares, strict=True):  # within one unit of the exact share
        assert abs(Decimal(x) - Decimal(total) * w / s) < 1
    assert all(isinstance(x, int) for x in shares)


@given(st.integers(1, 10**30), st.lists(st.tuples(st.integers(1, 10**24), st.booleans()), min_size=1, max_size=25),
       st.randoms(use_true_random=False))
def test_withholding_conserves_and_content_id_ignores_file_order(total_units, book, rnd):
    """Random holder sets, some not on the allow list: paid + withheld = the tranche's units, and
    shuffling the snapshot rows changes neither the allocation's totals nor the content id."""
    holders = [(addr(f"h{k}"), b) for k, (b, _) in enumerate(book)]
    allowed = [a for (a, _), (_, ok) in zip(holders, book, strict=True) if ok]
    amount = total_units / 1e6  # currency units of a 6-decimal token
    rows = {("A-1", 8453): holders}
    s1 = settle(_pa(amount), spec(holders=rows, allow=allowed))
    shuffled = holders[:]
    rnd.shuffle(shuffled)
    s2 = settle(_pa(amount), spec(holders={("A-1", 8453): shuffled}, allow=list(reversed(allowed))))
    units = s1.tranche_units["A-1"]["principal"]
    assert units == int(Decimal(repr(amount)).scaleb(6))  # rounded down from the float's exact value
    ins = s1.instructions[0]
    withheld = sum(s1.withheld.get(8453, {}).values())
    assert ins.total + withheld == units + s1.tranche_units["A-1"]["interest"]
    assert s1.check() == {"tranches": True, "chains": True}
    # holder order is canonical (by address), so even tied remainders go the same way
    assert s2.instructions[0].content_id == ins.content_id
    assert s2.withheld == s1.withheld
    assert s2.allocations == s1.allocations


def _pa(principal: float, interest: float = 0.0):
    from abs_engine.settlement.allocation import PeriodAmounts

    return PeriodAmounts("Prime Auto Owner Trust 2026-A", "0x" + "ab" * 32, 1, "2026-12-15",
                         {"A-1": {"interest": interest, "principal": principal}}, {"A-1": 0.0}, {"A-1": principal},
                         principal, 0.0)


def test_content_id_is_the_same_for_a_reordered_snapshot_file(projection):
    s = spec()
    base = settle(projection, s, period=1)
    rows = s["tranches"][0]["snapshots"][0]["holders"]
    s["tranches"][0]["snapshots"][0]["holders"] = rows[::-1]
    again = settle(projection, s, period=1)
    # the first snapshot's two holders have different balances: largest remainders do not depend on order
    assert [i.content_id for i in again.instructions] == [i.content_id for i in base.instructions]


def test_remainders_are_carried_never_dropped(projection):
    """Over 12 periods: base units paid + the last carried remainder = the exact sum of the
    period amounts (in the token's units), per tranche and kind."""
    carry, paid = None, {}
    for p in range(1, 13):
        s = settle(projection, spec(), period=p, carry=carry)
        carry = s.carry_out
        for t, kinds in s.tranche_units.items():
            for k, u in kinds.items():
                paid[(t, k)] = paid.get((t, k), 0) + u
    for (t, k), units in paid.items():
        col = "interest_paid" if k == "interest" else "principal_paid"
        exact = sum(Decimal(repr(float(projection.tranches.loc[(p, t), col]))) for p in range(1, 13))
        assert Decimal(units).scaleb(-6) + Decimal(carry[t][k]) == exact
        assert 0 <= Decimal(carry[t][k]) < Decimal("0.000001")


# ---------------------------------------------------------------- checks


def _holder(s, k):
    return s["tranches"][0]["snapshots"][0]["holders"][k].__setitem__


@pytest.mark.parametrize("edit, message", [
    (lambda s: _holder(s, 0)(0, addr("a").lower().replace("0x", "0X")),
     r"holders\[0\]\.address: got '0X.*', expected an EIP-55 checksummed address"),
    (lambda s: _holder(s, 0)(0, "0xA869aC5d35c70ce1f56b2a063bf23c2e05ba0045"),  # a wrong checksum
     r"expected an EIP-55 checksummed address"),
    (lambda s: _holder(s, 1)(0, addr("a")),
     r"holders\[1\]\.address: got '0x.*', expected an address not listed before"),
    (lambda s: _holder(s, 1)(1, "-5"),
     r"holders\[1\]\.balance: got -5, expected a balance >= 0"),
    (lambda s: s["tranches"][0]["snapshots"][0].__setitem__("total_supply", "1"),
     r"total_supply: got 1, expected the sum of the holders' balances \(80000000000000000000000000\)"),
    (lambda s: s["payment_token"].__setitem__("fee_on_transfer", True), r"payment_token.fee_on_transfer: got True"),
    (lambda s: s["payment_token"].__setitem__("rebasing", True), r"payment_token.rebasing: got True"),
    (lambda s: s["tranches"][0]["snapshots"][0].__setitem__("total_supply", 1.5), r"total_supply"),
])
def test_bad_snapshots_and_tokens_are_refused(projection, edit, message):
    s = spec()
    edit(s)
    with pytest.raises(ae.SpecError, match=message):
        settle(projection, s, period=1)


def test_bad_snapshot_file_names_file_row_and_value(projection, tmp_path):
    (tmp_path / "h.csv").write_text(f"address,balance\n{addr('a')},10\n{addr('b').lower()},5\n")
    s = spec(holders={("A-1", 8453): [(addr("x"), 15)]})
    s["tranches"][0]["snapshots"][0]["holders"] = "h.csv"
    (tmp_path / "s.json").write_text(json.dumps(s))
    with pytest.raises(ae.SpecError, match=r"h.csv: row 2.address: got '0x[0-9a-f]{40}', expected an EIP-55"):
        settle(projection, tmp_path / "s.json", period=1)


def test_a_deal_that_is_not_backed_is_refused_unless_overridden(projection, tmp_path):
    inflated = spec(holders={("A-1", 8453): [(addr("a"), 10**9 * E18)]})  # far more tokens than the pool
    with pytest.raises(BackingError, match="exceed the pool balance plus cash"):
        settle(projection, inflated, period=1)
    ledger = Ledger(tmp_path / "l.sqlite", deal_id(ae.load_deal(AUTO)))
    s = settle(projection, inflated, period=1, override_reason="tokens pre-minted for a tap issuance", ledger=ledger)
    record(ledger, s)
    assert ledger.instructions()[0]["detail"]["override_reason"] == "tokens pre-minted for a tap issuance"
    assert not s.backing["backed"]


def test_cli_settle_writes_nothing_on_bad_input(tmp_path):
    from abs_engine.cli import main

    ledger = tmp_path / "l.sqlite"
    servicer = ae.Servicer(ROOT / "tranches/nonagency_rmbs.yaml", ledger)
    servicer.distribute(ROOT / "tranches/data/servicing/nonagency_rmbs/period_1.yaml")
    good = ROOT / "tranches/data/settlement/nonagency_rmbs.yaml"
    bad = json.loads(json.dumps(__import__("yaml").safe_load(good.read_text())))
    bad["payment_token"]["rebasing"] = True
    (tmp_path / "bad.yaml").write_text(json.dumps(bad))
    out = tmp_path / "out"
    assert main(["settle", "--ledger", str(ledger), "--period", "1", "--holders", str(tmp_path / "bad.yaml"),
                 "--out", str(out)]) == 2
    assert not out.exists() and Ledger.open(ledger).instructions() == []
    for fmt in ("calldata", "safe", "merkle"):
        assert main(["settle", "--ledger", str(ledger), "--period", "1", "--holders", str(good), "--format", fmt,
                     "--out", str(out)]) == 0
    assert len(list(out.glob("period_1_chain_*"))) == 6
    assert len(Ledger.open(ledger).instructions()) == 2  # built once per content id


# ---------------------------------------------------------------- renderings


def test_transfer_calldata_is_the_erc20_abi():
    data = onchain.transfer_calldata(addr("a"), 12345)
    assert data[:10] == "0x" + keccak(text="transfer(address,uint256)")[:4].hex() == onchain.TRANSFER_SELECTOR
    assert bytes.fromhex(data[10:]) == encode(["address", "uint256"], [addr("a"), 12345])


def test_safe_batch_checksum_follows_the_safe_app(projection):
    batch = onchain.safe_batch(settle(projection, spec(), period=1).instructions[1])
    assert set(batch) == {"version", "chainId", "createdAt", "meta", "transactions"}
    assert set(batch["meta"]) == {"name", "description", "txBuilderVersion", "createdFromSafeAddress",
                                  "createdFromOwnerAddress", "checksum"}
    # independent re-implementation of the Safe app's serializeJSONObject + keccak, name nulled
    def ser(x):
        if isinstance(x, list):
            return "[" + ",".join(ser(v) for v in x) + "]"
        if isinstance(x, dict):
            ks = sorted(x)
            return "{" + json.dumps(ks, separators=(",", ":")) + "".join(ser(x[k]) + "," for k in ks) + "}"
        return json.dumps(x, separators=(",", ":"))
    meta = {k: v for k, v in batch["meta"].items() if k != "checksum"}
    expected = "0x" + keccak(text=ser({**batch, "meta": {**meta, "name": None}})).hex()
    assert batch["meta"]["checksum"] == expected
    renamed = json.loads(json.dumps(batch))
    renamed["meta"]["name"] = "another name"
    assert onchain.safe_checksum(renamed) == expected  # the name is not part of the checksum


@given(st.lists(st.tuples(st.integers(0, 2**160 - 1), st.integers(0, 10**30)), min_size=1, max_size=20,
                unique_by=lambda x: x[0]))
def test_merkle_proofs_verify_and_tampering_fails(values):
    vals = [(k, to_checksum_address(a.to_bytes(20, "big")), v) for k, (a, v) in enumerate(values)]
    tree = StandardMerkleTree.of(vals, ["uint256", "address", "uint256"])
    for k, v in enumerate(vals):
        leaf = leaf_hash(v, ["uint256", "address", "uint256"])
        assert verify_proof(tree.root, leaf, tree.proof(k))
        assert not verify_proof(tree.root, leaf_hash((v[0], v[1], v[2] + 1), ["uint256", "address", "uint256"]),
                                tree.proof(k))
    dump = tree.dump()
    assert dump["format"] == "standard-v1" and len(dump["tree"]) == 2 * len(vals) - 1


def test_merkle_matches_the_openzeppelin_readme_vector():
    # @openzeppelin/merkle-tree README: root and the proof of the first value
    t = StandardMerkleTree.of([["0x1111111111111111111111111111111111111111", 5 * E18],
                               ["0x2222222222222222222222222222222222222222", 25 * E18 // 10]], ["address", "uint256"])
    assert t.root == "0xd4dee0beab2d53f2cc83e567171bd2820e49898130a22622b10ead383e90bd77"
    assert t.dump()["tree"][1:] == ["0xeb02c421cfa48976e66dfb29120745909ea3a0f843456c263cf8f1253483e283",
                                    "0xb92c48e9d7abe27fd8dfd6b5dfdbfb1c9a463f80c712b66f3a5180a090cccafc"]


# ---------------------------------------------------------------- the EVM


@pytest.fixture(scope="module")
def auto_deal_id():
    return deal_id(ae.load_deal(AUTO))


@pytest.fixture
def evm(auto_deal_id):
    """Tokens and distributors on "chains" 1 and 8453, deployed in one EVM whose chain id is set
    per call (boa's ``env.evm.patch.chain_id``) so each distributor sees its own chain."""
    with boa.env.anchor():
        owner = boa.env.generate_address("owner")
        with boa.env.prank(owner):
            tokens = {c: boa.load(str(ROOT / "tests/settlement/contracts/Token.vy")) for c in (1, 8453)}
            batch = {c: boa.loads(onchain.contract_source("BatchDistributor"), tokens[c].address,
                                  bytes.fromhex(auto_deal_id[2:])) for c in (1, 8453)}
            merkle = {c: boa.loads(onchain.contract_source("MerkleDistributor"), tokens[c].address)
                      for c in (1, 8453)}
        yield owner, tokens, batch, merkle


@contextmanager
def on_chain(chain_id: int):
    """Calls inside run with the EVM's chain id set to ``chain_id`` (``chain.id`` in Vyper)."""
    old = boa.env.evm.patch.chain_id
    boa.env.evm.patch.chain_id = chain_id
    try:
        yield
    finally:
        boa.env.evm.patch.chain_id = old


TRANSFER_TOPIC = int.from_bytes(keccak(text="Transfer(address,address,uint256)"), "big")


def _transfer_events(computation, token: str, sender: str) -> list[dict]:
    """ERC-20 Transfer events emitted by ``token`` from ``sender``, decoded from the EVM's raw logs."""
    out = []
    for address, topics, data in computation.get_log_entries():
        if to_checksum_address(address) == token and topics[0] == TRANSFER_TOPIC \
                and to_checksum_address(topics[1].to_bytes(32, "big")[-20:]) == sender:
            out.append({"to": to_checksum_address(topics[2].to_bytes(32, "big")[-20:]),
                        "value": int.from_bytes(data, "big")})
    return out


def _fund(owner, token, to, amount):
    with boa.env.prank(owner):
        token.mint(to, amount)


def _distribute(batch_contract, call, owner):
    return boa.env.raw_call(call["to"], sender=owner, data=bytes.fromhex(call["data"][2:]))


def test_batch_distributor_pays_once_and_exactly(projection, evm):
    owner, tokens, batch, _ = evm
    allow = [addr(x) for x in "abcdf"]  # holder e of B is not allowed: withheld
    s = settle(projection, spec(token1=tokens[1].address, token8453=tokens[8453].address,
                                source1=batch[1].address, source8453=batch[8453].address, allow=allow), period=1)
    assert s.withheld and set(s.withheld[8453]) == {addr("e")}
    for ins in s.instructions:
        withheld = sum(s.withheld.get(ins.chain_id, {}).values())
        _fund(owner, tokens[ins.chain_id], batch[ins.chain_id].address, ins.total + withheld)
        (call,) = onchain.calldata(ins)["distributor_calls"]
        assert call["to"] == batch[ins.chain_id].address
        with on_chain(ins.chain_id):
            computation = _distribute(batch[ins.chain_id], call, owner)
            for r, a in ins.transfers:
                assert tokens[ins.chain_id].balanceOf(r) == a
            assert batch[ins.chain_id].paid(ins.period, 0) == bytes.fromhex(call["content_id"][2:])
            # what remains in the contract is exactly the withheld bucket
            assert tokens[ins.chain_id].balanceOf(batch[ins.chain_id].address) == withheld
            observed = _transfer_events(computation, tokens[ins.chain_id].address, batch[ins.chain_id].address)
            assert len(observed) == len(ins.transfers)
            assert reconcile(ins, observed).empty
            assert not reconcile(ins, observed[1:]).empty
            with pytest.raises(Revert) as refused:  # the emitted call, executed a second time
                _distribute(batch[ins.chain_id], call, owner)
            assert b"batch already paid" in refused.value.args[0]
    # every holder's interest + principal across tranches, exactly
    frame = s.allocation_frame()
    paid = frame[~frame["withheld"]].groupby(["chain_id", "holder"])["amount"].sum()
    for (chain, holder), amount in paid.items():
        assert tokens[chain].balanceOf(holder) == amount


def test_batch_distributor_refuses_what_the_instruction_does_not_say(projection, evm):
    """A wrong total, recipients or amounts that do not hash to the content id, another chain's
    or another deal's instruction, the zero address, and a caller that is not the owner."""
    owner, tokens, batch, _ = evm
    s = settle(projection, spec(token8453=tokens[8453].address, source8453=batch[8453].address), period=1)
    ins = s.instructions[1]
    (b,) = ins.batches()
    _fund(owner, tokens[8453], batch[8453].address, 2 * ins.total)
    rec, amt = [r for r, _ in b.transfers], [a for _, a in b.transfers]
    cid = bytes.fromhex(b.content_id[2:])
    d = batch[8453]
    with on_chain(8453), boa.env.prank(owner):
        with boa.reverts("total is not the sum of the amounts"):
            d.distribute(ins.period, 0, cid, rec, amt, ins.total + 1)
        with boa.reverts("content id does not match the recipients and amounts"):  # an amount raised
            d.distribute(ins.period, 0, cid, rec, [amt[0] + 1, *amt[1:]], ins.total + 1)
        with boa.reverts("content id does not match the recipients and amounts"):  # a recipient swapped
            d.distribute(ins.period, 0, cid, [addr("attacker"), *rec[1:]], amt, ins.total)
        with boa.reverts("content id does not match the recipients and amounts"):  # another batch index
            d.distribute(ins.period, 1, cid, rec, amt, ins.total)
        with boa.reverts("content id does not match the recipients and amounts"):  # another period
            d.distribute(ins.period + 1, 0, cid, rec, amt, ins.total)
    with on_chain(1), boa.env.prank(owner), boa.reverts("content id does not match the recipients and amounts"):
        d.distribute(ins.period, 0, cid, rec, amt, ins.total)          # replayed on another chain
    with on_chain(8453), boa.env.prank(owner):
        other = boa.loads(onchain.contract_source("BatchDistributor"), tokens[8453].address, b"\x01" * 32)
    with on_chain(8453), boa.env.prank(owner), boa.reverts("content id does not match the recipients and amounts"):
        other.distribute(ins.period, 0, cid, rec, amt, ins.total)      # another deal's distributor
    zero = "0x" + "00" * 20
    with on_chain(8453), boa.env.prank(owner):
        zcid = d.content_id(ins.period, 5, [zero], [1])
        with boa.reverts("zero address"):
            d.distribute(ins.period, 5, zcid, [zero], [1], 1)
    with on_chain(8453), boa.env.prank(rec[0]), boa.reverts("not the owner"):
        d.distribute(ins.period, 0, cid, rec, amt, ins.total)
    with on_chain(8453), boa.env.prank(owner):
        assert d.content_id(ins.period, 0, rec, amt) == cid          # the contract's id is the library's
        d.distribute(ins.period, 0, cid, rec, amt, ins.total)
    assert all(tokens[8453].balanceOf(r) == a for r, a in b.transfers)


def test_batch_distributor_ownership_moves_in_two_steps(evm):
    owner, _, batch, _ = evm
    new = boa.env.generate_address("new owner")
    d = batch[8453]
    with boa.env.prank(new), boa.reverts("not the owner"):
        d.transfer_ownership(new)
    with boa.env.prank(owner):
        d.transfer_ownership(new)
    assert d.owner() == owner and d.pending_owner() == new
    with boa.env.prank(owner), boa.reverts("not the pending owner"):
        d.accept_ownership()
    with boa.env.prank(new):
        d.accept_ownership()
    assert d.owner() == new and d.pending_owner() == "0x" + "00" * 20


def test_a_chain_of_100000_holders_settles_in_batches_that_all_succeed(evm, auto_deal_id):
    """A tranche token with 100,000 holders: the instruction splits into batches of BATCH_SIZE
    recipients, and every batch's calldata decodes to exactly its holders and amounts (all
    100,000). In the EVM, the first eight full batches and the last, partial one (every shape of
    call there is) succeed with exact balances, in a batch well inside a block's gas. (Executing
    all 391 batches in the in-process EVM took 250 s of CI for calls of identical shape.)"""
    from eth_abi import decode

    from abs_engine.settlement.instruction import BATCH_SIZE, Instruction

    owner, tokens, batch, _ = evm
    n = 100_000
    rng = __import__("random").Random(7)
    holders = sorted(((to_checksum_address(keccak(text=f"holder-{k}")[-20:]), rng.randrange(1, 10**12))
                      for k in range(n)), key=lambda x: x[0].lower())
    ins = Instruction(8453, tokens[8453].address, batch[8453].address, auto_deal_id, 7, tuple(holders))
    batches = ins.batches()
    assert len(batches) == -(-n // BATCH_SIZE) and sum(len(b.transfers) for b in batches) == n
    calls = onchain.calldata(ins)["distributor_calls"]
    assert len(calls) == len(batches)
    decoded = []
    for k, call in enumerate(calls):  # every call: this batch's holders, amounts and total, in order
        period, index, content, recipients, amounts, total = decode(
            ["uint256", "uint256", "bytes32", "address[]", "uint256[]", "uint256"], bytes.fromhex(call["data"][10:]))
        assert (period, index, "0x" + content.hex()) == (7, k, batches[k].content_id) and total == sum(amounts)
        decoded += [(to_checksum_address(r), a) for r, a in zip(recipients, amounts, strict=True)]
    assert decoded == holders
    executed = [*range(8), len(calls) - 1]
    paid = [t for k in executed for t in batches[k].transfers]
    _fund(owner, tokens[8453], batch[8453].address, sum(a for _, a in paid))
    gas, observed = [], []
    with on_chain(8453):
        for k in executed:
            computation = _distribute(batch[8453], calls[k], owner)
            assert not computation.is_error, k
            gas.append(computation.get_gas_used() / calls[k]["recipients"])
            observed += _transfer_events(computation, tokens[8453].address, batch[8453].address)
    assert observed == [{"to": r, "value": a} for r, a in paid]   # every transfer, exactly
    assert tokens[8453].balanceOf(batch[8453].address) == 0
    for r, a in paid[::97] + paid[-3:]:
        assert tokens[8453].balanceOf(r) == a
    per_recipient = sorted(gas)[len(gas) // 2]
    print(f"\nbatch distributor: {len(calls)} calls of <= {BATCH_SIZE}; median gas per recipient {per_recipient:,.0f}")
    assert per_recipient * BATCH_SIZE < 15_000_000  # a batch fits in half a 30 M gas block


def _merkle_setup(projection, evm, period, allow=None):
    owner, tokens, _, merkle = evm
    s = settle(projection, spec(token8453=tokens[8453].address, source8453=merkle[8453].address, allow=allow),
               period=period)
    ins = s.instructions[1]
    return owner, tokens[8453], merkle[8453], s, ins, onchain.merkle_claims(ins)


def _proof(c):
    return [bytes.fromhex(p[2:]) for p in c["proof"]]


DAY = 86_400


def test_merkle_distributor_claims(projection, evm):
    owner, token, dist, s, ins, claims = _merkle_setup(projection, evm, 2, allow=[addr(x) for x in "abcdf"])
    withheld = sum(s.withheld.get(8453, {}).values())
    _fund(owner, token, dist.address, ins.total + withheld)
    with on_chain(8453):
        with boa.env.prank(owner):
            dist.allocate(ins.period, ins.total + withheld)
            dist.set_root(ins.period, bytes.fromhex(claims["root"][2:]), ins.total, boa.env.timestamp + 90 * DAY)
        first, *rest = ins.transfers
        c = claims["claims"][first[0]]
        proof = _proof(c)
        with boa.env.prank(rest[0][0]), boa.reverts("claim for another account"):  # the wrong account
            dist.claim(ins.period, c["index"], first[0], int(c["amount"]), proof)
        bad = [bytes([proof[0][0] ^ 1]) + proof[0][1:]] + proof[1:]
        with boa.env.prank(first[0]), boa.reverts("invalid proof"):
            dist.claim(ins.period, c["index"], first[0], int(c["amount"]), bad)
        with boa.env.prank(first[0]), boa.reverts("invalid proof"):  # a larger amount
            dist.claim(ins.period, c["index"], first[0], int(c["amount"]) + 1, proof)
        for r, a in ins.transfers:
            c = claims["claims"][r]
            with boa.env.prank(r):
                dist.claim(ins.period, c["index"], r, int(c["amount"]), _proof(c))
            assert token.balanceOf(r) == a
        c = claims["claims"][first[0]]
        with boa.env.prank(first[0]), boa.reverts("already claimed"):
            dist.claim(ins.period, c["index"], first[0], int(c["amount"]), proof)
    assert token.balanceOf(dist.address) == withheld
    assert dist.claimed(ins.period) == ins.total == dist.totals(ins.period)


def test_merkle_distributor_never_pays_an_unfunded_period(projection, evm):
    """Period 3's root cannot be set without its own allocation, even while period 2's funds sit in
    the contract; funds committed to a period cannot be allocated twice."""
    owner, token, dist, s, ins, claims = _merkle_setup(projection, evm, 2)
    s3 = settle(projection, spec(token8453=token.address, source8453=dist.address), period=3)
    ins3 = s3.instructions[1]
    claims3 = onchain.merkle_claims(ins3)
    _fund(owner, token, dist.address, ins.total)
    deadline = boa.env.timestamp + 90 * DAY
    with on_chain(8453), boa.env.prank(owner):
        dist.allocate(ins.period, ins.total)
        dist.set_root(ins.period, bytes.fromhex(claims["root"][2:]), ins.total, deadline)
        with boa.reverts("period not funded"):
            dist.set_root(ins3.period, bytes.fromhex(claims3["root"][2:]), ins3.total, deadline)
        with boa.reverts("not funded"):  # period 2's tokens are committed
            dist.allocate(ins3.period, ins3.total)
        with boa.reverts("more than the period's surplus"):
            dist.reallocate(ins.period, ins3.period, 1)
    assert dist.funded(ins3.period) == 0 and token.balanceOf(dist.address) == ins.total


def test_merkle_proofs_do_not_replay_across_periods_or_distributors(projection, evm):
    """The same payouts in two periods (the same recipients and amounts) have different roots, and
    a proof of one period is refused in the other; so is a proof made for another distributor."""
    from dataclasses import replace

    owner, token, dist, s, ins, claims = _merkle_setup(projection, evm, 2)
    twin = replace(ins, period=ins.period + 1)                  # identical transfers, next period
    claims_twin = onchain.merkle_claims(twin)
    assert claims_twin["root"] != claims["root"]
    _fund(owner, token, dist.address, 2 * ins.total)
    deadline = boa.env.timestamp + 90 * DAY
    with on_chain(8453):
        with boa.env.prank(owner):
            for i, c in ((ins, claims), (twin, claims_twin)):
                dist.allocate(i.period, i.total)
                dist.set_root(i.period, bytes.fromhex(c["root"][2:]), i.total, deadline)
        r, a = ins.transfers[0]
        c = claims["claims"][r]
        with boa.env.prank(r), boa.reverts("invalid proof"):    # period 2's proof under period 3
            dist.claim(twin.period, c["index"], r, a, _proof(c))
        elsewhere = onchain.merkle_claims(replace(ins, source=addr("another distributor")))["claims"][r]
        with boa.env.prank(r), boa.reverts("invalid proof"):    # another distributor's proof
            dist.claim(ins.period, c["index"], r, a, _proof(elsewhere))
    with on_chain(1), boa.env.prank(r), boa.reverts("invalid proof"):  # the same distributor on another chain
        dist.claim(ins.period, c["index"], r, a, _proof(c))
    with on_chain(8453), boa.env.prank(r):
        dist.claim(ins.period, c["index"], r, a, _proof(c))
    assert token.balanceOf(r) == a


def test_merkle_root_revocation_sweep_and_ownership(projection, evm):
    owner, token, dist, s, ins, claims = _merkle_setup(projection, evm, 2)
    treasury = boa.env.generate_address("treasury")
    _fund(owner, token, dist.address, ins.total + 5)
    root = bytes.fromhex(claims["root"][2:])
    deadline = boa.env.timestamp + 30 * DAY
    with on_chain(8453):
        with boa.env.prank(owner):
            dist.allocate(ins.period, ins.total + 5)
            dist.set_root(ins.period, b"\x01" * 32, ins.total, deadline)   # a wrong root ...
            dist.revoke_root(ins.period)                                   # ... revoked before any claim
            assert dist.roots(ins.period) == b"\x00" * 32
            dist.set_root(ins.period, root, ins.total, deadline)
        r, a = ins.transfers[0]
        with boa.env.prank(r):
            dist.claim(ins.period, claims["claims"][r]["index"], r, a, _proof(claims["claims"][r]))
        with boa.env.prank(owner):
            with boa.reverts("the period has claims"):
                dist.revoke_root(ins.period)
            with boa.reverts("before the claim deadline"):
                dist.sweep(ins.period, treasury)
        with boa.env.prank(treasury), boa.reverts("not the owner"):
            dist.sweep(ins.period, treasury)
        boa.env.time_travel(seconds=31 * DAY)
        with boa.env.prank(owner):
            dist.sweep(ins.period, treasury)
        assert token.balanceOf(treasury) == ins.total + 5 - a
        assert token.balanceOf(dist.address) == 0 and dist.committed() == 0
        r2, a2 = ins.transfers[1]
        with boa.env.prank(r2), boa.reverts("period swept"):
            dist.claim(ins.period, claims["claims"][r2]["index"], r2, a2, _proof(claims["claims"][r2]))
        new = boa.env.generate_address("new owner")
        with boa.env.prank(owner):
            dist.transfer_ownership(new)
        with boa.env.prank(new):
            dist.accept_ownership()
        assert dist.owner() == new
        with boa.env.prank(owner), boa.reverts("not the owner"):
            dist.allocate(99, 0)


def test_safe_batch_and_erc20_calldata_execute(projection, evm):
    """The Safe batch's transfers (encoded from contractMethod + contractInputsValues, as the Safe
    app does) and the plain ERC-20 calldata, executed from the paying address."""
    owner, tokens, _, _ = evm
    safe = boa.env.generate_address("safe")
    s = settle(projection, spec(token8453=tokens[8453].address, source8453=safe), period=3)
    ins = s.instructions[1]
    _fund(owner, tokens[8453], safe, 2 * ins.total)
    for tx in onchain.safe_batch(ins)["transactions"]:
        m = tx["contractMethod"]
        types = [i["type"] for i in m["inputs"]]
        args = [tx["contractInputsValues"][i["name"]] for i in m["inputs"]]
        data = keccak(text=f"{m['name']}({','.join(types)})")[:4] + encode(types, [args[0], int(args[1])])
        boa.env.raw_call(tx["to"], sender=safe, data=data)
    for tx in onchain.calldata(ins)["erc20_transfers"]:
        boa.env.raw_call(tx["to"], sender=safe, data=bytes.fromhex(tx["data"][2:]))
    for r, a in ins.transfers:
        assert tokens[8453].balanceOf(r) == 2 * a
    assert tokens[8453].balanceOf(safe) == 0


# ---------------------------------------------------------------- lifecycle


def test_a_paid_period_is_never_reemitted_with_another_content_id(projection, tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite", deal_id(ae.load_deal(AUTO)))
    s = settle(projection, spec(), period=1, ledger=ledger)
    record(ledger, s)
    record(ledger, settle(projection, spec(), period=1, ledger=ledger))  # idempotent
    assert len(ledger.instructions(1)) == 2
    ins = s.instructions[1]
    advance(ledger, ins.content_id, "submitted", {"tx": "0x" + "12" * 32})
    advance(ledger, ins.content_id, "confirmed", {"block": 123})
    with pytest.raises(ae.LedgerError, match="already confirmed"):
        advance(ledger, ins.content_id, "submitted")
    other = spec()
    other["tranches"][1]["snapshots"][0]["holders"][0][1] = str(49_000_000 * E18)
    other["tranches"][1]["snapshots"][0]["holders"][1][1] = str(46_000_000 * E18)
    with pytest.raises(ae.LedgerError, match="refusing to emit a different one"):
        settle(projection, other, period=1, ledger=ledger)
    # the next period reads the carried remainders from the ledger
    s2 = settle(projection, spec(), period=2, ledger=ledger)
    assert s2.carry_in == s.carry_out


def test_nav_payload(projection):
    s = settle(projection, spec(), period=1, timestamp=1_700_000_000)
    nav = onchain.nav_payloads(s)["A-1"]
    bal = float(projection.tranches.loc[(1, "A-1"), "ending_balance"])
    assert nav["decimals"] == 18 and nav["period"] == 1 and nav["timestamp"] == 1_700_000_000
    assert int(nav["value"]) == int((Decimal(repr(bal)) / Decimal(110_000_000)).scaleb(18))
    assert period_amounts(projection, 1).note_original["A-1"] == 110_000_000


def test_no_network_and_no_signing_without_a_key(projection, tmp_path, monkeypatch):
    """Settling, rendering and attesting open no connection (sockets are made to fail here) and
    sign nothing: the only signature comes from attestation.sign with a caller's key."""
    import socket

    def refuse(*args, **kwargs):
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    s = settle(projection, spec(), period=1)
    for ins in s.instructions:
        text = json.dumps([onchain.calldata(ins), onchain.safe_batch(ins), onchain.merkle_claims(ins)])
        assert "signature" not in text
    from abs_engine.servicing.attestation import typed_data

    servicer = ae.Servicer(AUTO, tmp_path / "l.sqlite")
    from abs_engine.io.collection_reports import collections_from_frame
    from abs_engine.servicing.servicer import projected_collections

    head, tape = projected_collections(ae.run(AUTO, SCEN, loan_level=True), 1)
    rep = servicer.distribute(collections_from_frame(head, tape))
    assert "signature" not in json.dumps(typed_data(rep, chain_id=1))


def test_the_readme_bot_walkthrough(tmp_path):
    """README: ledger -> allocation -> Safe batch and Merkle files -> execution in the EVM ->
    reconciliation, on the non-agency deal's example reports and holder snapshots."""
    import yaml

    servicer = ae.Servicer(ROOT / "tranches/nonagency_rmbs.yaml", tmp_path / "ledger.sqlite")
    for p in (1, 2, 3):
        servicer.distribute(ROOT / f"tranches/data/servicing/nonagency_rmbs/period_{p}.yaml")
    with boa.env.anchor():
        token = boa.load(str(ROOT / "tests/settlement/contracts/Token.vy"))
        dist = boa.loads(onchain.contract_source("MerkleDistributor"), token.address)
        folder = ROOT / "tranches/data/settlement"
        spec_ = yaml.safe_load((folder / "nonagency_rmbs.yaml").read_text())
        for t in spec_["tranches"]:
            for snap in t["snapshots"]:
                snap["holders"] = str(folder / snap["holders"])
        spec_["allow_list"] = str(folder / "allow_list.csv")
        spec_["payment_token"]["addresses"][8453] = token.address
        spec_["source"][8453] = dist.address
        s = settle(servicer.report(3), spec_, ledger=servicer.ledger)
        record(servicer.ledger, s)
        base = next(i for i in s.instructions if i.chain_id == 8453)
        claims = onchain.merkle_claims(base)
        (tmp_path / "merkle.json").write_text(json.dumps(claims))
        (tmp_path / "safe.json").write_text(json.dumps(onchain.safe_batch(base)))
        token.mint(dist.address, base.total + sum(s.withheld[8453].values()))
        with on_chain(8453):
            dist.allocate(base.period, base.total + sum(s.withheld[8453].values()))
            dist.set_root(base.period, bytes.fromhex(claims["root"][2:]), base.total, boa.env.timestamp + 90 * 86400)
            advance(servicer.ledger, base.content_id, "submitted", {"root": claims["root"]})
            observed = []
            for holder, c in json.loads((tmp_path / "merkle.json").read_text())["claims"].items():
                proof = [bytes.fromhex(p[2:]) for p in c["proof"]]
                with boa.env.prank(holder):
                    dist.claim(base.period, c["index"], holder, int(c["amount"]), proof)
                observed.append({"to": holder, "value": token.balanceOf(holder)})
        assert reconcile(base, observed).empty
        advance(servicer.ledger, base.content_id, "confirmed")
        advance(servicer.ledger, base.content_id, "reconciled")
        assert token.balanceOf(dist.address) == sum(s.withheld[8453].values()) > 0
    assert s.check() == {"tranches": True, "chains": True}
    statuses = [r["status"] for r in servicer.ledger.instructions(3) if r["content_id"] == base.content_id]
    assert statuses == ["built", "submitted", "confirmed", "reconciled"]


def test_withheld_payouts_are_claimable_once_allowed(projection, evm, tmp_path):
    """The claimable bucket: a holder withheld in period 1 is paid exactly its withheld amount by
    a release once on the allow list; the distributor is then empty; a release is built once."""
    from abs_engine.settlement.instruction import RELEASE_BASE
    from abs_engine.settlement.lifecycle import release_withheld

    owner, tokens, batch, _ = evm
    ledger = Ledger(tmp_path / "l.sqlite", deal_id(ae.load_deal(AUTO)))
    kw = dict(token8453=tokens[8453].address, source8453=batch[8453].address)
    s = settle(projection, spec(allow=[addr(x) for x in "abcdf"], **kw), period=1, ledger=ledger)
    record(ledger, s)
    ins = s.instructions[1]
    owed = s.withheld[8453][addr("e")]
    _fund(owner, tokens[8453], batch[8453].address, ins.total + owed)
    with on_chain(8453):
        for b in ins.batches():
            boa.env.raw_call(batch[8453].address, sender=owner, data=bytes.fromhex(onchain.distribute_calldata(b)[2:]))
    assert tokens[8453].balanceOf(addr("e")) == 0
    assert release_withheld(ledger, spec(allow=[addr(x) for x in "abcdf"], **kw), as_of=1) == ()  # still not allowed
    (release,) = release_withheld(ledger, spec(allow=[addr(x) for x in "abcdef"], **kw), as_of=1)
    assert release.period == RELEASE_BASE + 1 and release.transfers == ((addr("e"), owed),)
    with on_chain(8453):
        for b in release.batches():
            boa.env.raw_call(batch[8453].address, sender=owner, data=bytes.fromhex(onchain.distribute_calldata(b)[2:]))
    assert tokens[8453].balanceOf(addr("e")) == owed
    assert tokens[8453].balanceOf(batch[8453].address) == 0
    again = release_withheld(ledger, spec(allow=[addr(x) for x in "abcdef"], **kw), as_of=1)
    assert again == (release,) and sum(r["detail"].get("kind") == "release" for r in ledger.instructions()) == 1
    assert release_withheld(ledger, spec(allow=[addr(x) for x in "abcdef"], **kw), as_of=2) == ()  # nothing left


def test_a_settlement_shows_itself(projection):
    """Its header (deal, period, exactness, backing) and one row per chain, integers kept as text."""
    s = settle(projection, spec(), period=1)
    shown = repr(s)
    assert shown.startswith("<Settlement>") and "holders add up to every tranche and chain" in shown
    for ins in s.instructions:
        assert str(ins.total) in shown and ins.content_id in shown
    assert f"<td>{s.instructions[0].total}</td>" in s._repr_html_()
