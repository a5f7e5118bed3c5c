# pragma version ~=0.4.0
"""
@title abs_engine NAV feed
@notice One tranche token's NAV per token, round by round (one round per deal period), in the
        shape of Chainlink's AggregatorV3Interface. A report is accepted only when it is signed
        by the configured signer as EIP-712 typed data:
            domain  {name: "abs_engine NAV feed", version: "1", chainId, verifyingContract: self}
            NavReport(address token,uint256 roundId,int256 answer,int256 parAnswer,
                      uint256 startedAt,uint256 updatedAt)
        for this feed's token, with a round id above the latest one (rounds only move forward)
        and an update time not before its start. ``answer`` is the NAV per token at the stated
        valuation, ``parAnswer`` the par factor (note balance per token), both with ``decimals``
        decimals. Anyone may relay a signed report; the signer key is changed by the owner.
"""

DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
REPORT_TYPEHASH: constant(bytes32) = keccak256(
    "NavReport(address token,uint256 roundId,int256 answer,int256 parAnswer,uint256 startedAt,uint256 updatedAt)")
NAME_HASH: constant(bytes32) = keccak256("abs_engine NAV feed")
VERSION_HASH: constant(bytes32) = keccak256("1")

struct Round:
    answer: int256
    par_answer: int256
    started_at: uint256
    updated_at: uint256

event AnswerUpdated:
    current: indexed(int256)
    roundId: indexed(uint256)
    updatedAt: uint256

event SignerChanged:
    previous_signer: indexed(address)
    new_signer: indexed(address)

owner: public(address)
signer: public(address)
token: public(address)
decimals: public(uint8)
description: public(String[64])
version: public(uint256)
latest_round: public(uint80)
rounds: HashMap[uint80, Round]


@deploy
def __init__(signer: address, token: address, decimals: uint8, description: String[64]):
    assert signer != empty(address), "no signer"
    assert token != empty(address), "no token"
    self.owner = msg.sender
    self.signer = signer
    self.token = token
    self.decimals = decimals
    self.description = description
    self.version = 1


@view
@internal
def _digest(round_id: uint256, answer: int256, par_answer: int256, started_at: uint256,
            updated_at: uint256) -> bytes32:
    domain: bytes32 = keccak256(abi_encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, chain.id, self))
    report: bytes32 = keccak256(abi_encode(REPORT_TYPEHASH, self.token, round_id, answer, par_answer, started_at,
                                           updated_at))
    return keccak256(concat(b"\x19\x01", domain, report))


@external
def submit(round_id: uint80, answer: int256, par_answer: int256, started_at: uint256, updated_at: uint256,
           v: uint8, r: bytes32, s: bytes32):
    """Accept a signed report for the next round."""
    assert round_id > self.latest_round, "round already reported"
    assert updated_at >= started_at, "updated before started"
    digest: bytes32 = self._digest(convert(round_id, uint256), answer, par_answer, started_at, updated_at)
    assert convert(s, uint256) <= 57896044618658097711785492504343953926418782139537452191302581570759080747168, \
        "malleable signature"
    assert ecrecover(digest, v, r, s) == self.signer, "not signed by the signer"
    self.rounds[round_id] = Round(answer=answer, par_answer=par_answer, started_at=started_at, updated_at=updated_at)
    self.latest_round = round_id
    log AnswerUpdated(current=answer, roundId=convert(round_id, uint256), updatedAt=updated_at)


@view
@external
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    assert self.latest_round > 0, "no data"
    r: Round = self.rounds[self.latest_round]
    return (self.latest_round, r.answer, r.started_at, r.updated_at, self.latest_round)


@view
@external
def getRoundData(round_id: uint80) -> (uint80, int256, uint256, uint256, uint80):
    r: Round = self.rounds[round_id]
    assert r.updated_at > 0, "no data"
    return (round_id, r.answer, r.started_at, r.updated_at, round_id)


@view
@external
def latestParAnswer() -> int256:
    """The latest round's par factor (note balance per token)."""
    return self.rounds[self.latest_round].par_answer


@external
def set_signer(new_signer: address):
    assert msg.sender == self.owner, "not the owner"
    assert new_signer != empty(address), "no signer"
    log SignerChanged(previous_signer=self.signer, new_signer=new_signer)
    self.signer = new_signer
