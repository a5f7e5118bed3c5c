# pragma version ~=0.4.0
"""
@title abs_engine Merkle claim distributor
@notice One OpenZeppelin StandardMerkleTree root per period. Leaves are
        (uint256 chainId, address distributor, uint256 period, uint256 index, address account,
        uint256 amount), double-hashed: keccak256(keccak256(abi.encode(...))), so a proof is valid
        for one chain, one distributor and one period only.

        Funds are tracked per period. The owner allocates tokens the contract holds (and has not
        committed to another period) to a period; a root can only be set for a period whose
        allocation covers its total; the claims of a period never exceed its total. Each account
        claims its own leaf once. Before the first claim of a period the owner may revoke a wrong
        root (and set a corrected one). After the period's claim deadline the owner may sweep what
        is left of its allocation to a named treasury; the period then takes no more claims. The
        owner may move an allocation's surplus (funds no root can pay, e.g. withheld holders') to
        another period, such as the release of withheld payouts. Ownership moves in two steps.
"""

from ethereum.ercs import IERC20

event Allocated:
    period: indexed(uint256)
    amount: uint256

event Reallocated:
    from_period: indexed(uint256)
    to_period: indexed(uint256)
    amount: uint256

event RootSet:
    period: indexed(uint256)
    root: bytes32
    total: uint256
    deadline: uint256

event RootRevoked:
    period: indexed(uint256)
    root: bytes32

event Claimed:
    period: indexed(uint256)
    index: uint256
    account: indexed(address)
    amount: uint256

event Swept:
    period: indexed(uint256)
    treasury: indexed(address)
    amount: uint256

event OwnershipTransferStarted:
    previous_owner: indexed(address)
    new_owner: indexed(address)

event OwnershipTransferred:
    previous_owner: indexed(address)
    new_owner: indexed(address)

owner: public(address)
pending_owner: public(address)
token: public(IERC20)
roots: public(HashMap[uint256, bytes32])
totals: public(HashMap[uint256, uint256])
deadlines: public(HashMap[uint256, uint256])
funded: public(HashMap[uint256, uint256])
claimed: public(HashMap[uint256, uint256])
swept: public(HashMap[uint256, bool])
committed: public(uint256)
claimed_words: HashMap[uint256, HashMap[uint256, uint256]]


@deploy
def __init__(token: address):
    assert token != empty(address), "no token"
    self.owner = msg.sender
    self.token = IERC20(token)


@internal
def _only_owner():
    assert msg.sender == self.owner, "not the owner"


@external
def allocate(period: uint256, amount: uint256):
    """Commit `amount` of the tokens this contract holds, not yet committed, to `period`."""
    self._only_owner()
    assert not self.swept[period], "period swept"
    assert staticcall self.token.balanceOf(self) >= self.committed + amount, "not funded"
    self.funded[period] += amount
    self.committed += amount
    log Allocated(period=period, amount=amount)


@view
@internal
def _surplus(period: uint256) -> uint256:
    """What no root of the period can pay: the allocation beyond its total (all of it without a root)."""
    held: uint256 = self.funded[period] - self.claimed[period]
    if self.roots[period] == empty(bytes32):
        return held
    return held - (self.totals[period] - self.claimed[period])


@external
def reallocate(from_period: uint256, to_period: uint256, amount: uint256):
    self._only_owner()
    assert not self.swept[to_period], "period swept"
    assert amount <= self._surplus(from_period), "more than the period's surplus"
    self.funded[from_period] -= amount
    self.funded[to_period] += amount
    log Reallocated(from_period=from_period, to_period=to_period, amount=amount)


@external
def set_root(period: uint256, root: bytes32, total: uint256, deadline: uint256):
    self._only_owner()
    assert root != empty(bytes32), "no root"
    assert self.roots[period] == empty(bytes32), "period already has a root"
    assert not self.swept[period], "period swept"
    assert self.funded[period] >= total, "period not funded"
    assert deadline > block.timestamp, "deadline in the past"
    self.roots[period] = root
    self.totals[period] = total
    self.deadlines[period] = deadline
    log RootSet(period=period, root=root, total=total, deadline=deadline)


@external
def revoke_root(period: uint256):
    self._only_owner()
    root: bytes32 = self.roots[period]
    assert root != empty(bytes32), "no root for the period"
    assert self.claimed[period] == 0, "the period has claims"
    self.roots[period] = empty(bytes32)
    self.totals[period] = 0
    self.deadlines[period] = 0
    log RootRevoked(period=period, root=root)


@view
@external
def is_claimed(period: uint256, index: uint256) -> bool:
    return (self.claimed_words[period][index // 256] >> (index % 256)) & 1 == 1


@view
@external
def leaf(period: uint256, index: uint256, account: address, amount: uint256) -> bytes32:
    return keccak256(keccak256(abi_encode(chain.id, self, period, index, account, amount)))


@external
def claim(period: uint256, index: uint256, account: address, amount: uint256, proof: DynArray[bytes32, 64]):
    assert msg.sender == account, "claim for another account"
    root: bytes32 = self.roots[period]
    assert root != empty(bytes32), "no root for the period"
    assert not self.swept[period], "period swept"
    word: uint256 = self.claimed_words[period][index // 256]
    bit: uint256 = 1 << (index % 256)
    assert word & bit == 0, "already claimed"
    node: bytes32 = keccak256(keccak256(abi_encode(chain.id, self, period, index, account, amount)))
    for p: bytes32 in proof:
        if convert(node, uint256) < convert(p, uint256):
            node = keccak256(concat(node, p))
        else:
            node = keccak256(concat(p, node))
    assert node == root, "invalid proof"
    assert self.claimed[period] + amount <= self.totals[period], "claims exceed the period's total"
    self.claimed_words[period][index // 256] = word | bit
    self.claimed[period] += amount
    self.committed -= amount
    assert extcall self.token.transfer(account, amount, default_return_value=True), "transfer failed"
    log Claimed(period=period, index=index, account=account, amount=amount)


@external
def sweep(period: uint256, treasury: address):
    """After the period's claim deadline: what is left of its allocation goes to `treasury`."""
    self._only_owner()
    assert treasury != empty(address), "zero address"
    assert not self.swept[period], "period swept"
    deadline: uint256 = self.deadlines[period]
    assert deadline != 0 and block.timestamp > deadline, "before the claim deadline"
    amount: uint256 = self.funded[period] - self.claimed[period]
    self.swept[period] = True
    self.committed -= amount
    assert extcall self.token.transfer(treasury, amount, default_return_value=True), "transfer failed"
    log Swept(period=period, treasury=treasury, amount=amount)


@external
def transfer_ownership(new_owner: address):
    self._only_owner()
    self.pending_owner = new_owner
    log OwnershipTransferStarted(previous_owner=self.owner, new_owner=new_owner)


@external
def accept_ownership():
    assert msg.sender == self.pending_owner, "not the pending owner"
    log OwnershipTransferred(previous_owner=self.owner, new_owner=msg.sender)
    self.owner = msg.sender
    self.pending_owner = empty(address)
