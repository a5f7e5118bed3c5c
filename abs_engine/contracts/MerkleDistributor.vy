# pragma version ~=0.4.0
"""
@title abs_engine Merkle claim distributor
@notice One OpenZeppelin StandardMerkleTree root per period, leaves (uint256 index, address
        account, uint256 amount) double-hashed: keccak256(keccak256(abi.encode(...))). Each
        account claims its own leaf once (a claimed bitmap per period); a wrong proof or a claim
        for another account is refused. Unclaimed funds stay in the contract.
"""

from ethereum.ercs import IERC20

event RootSet:
    period: indexed(uint256)
    root: bytes32
    total: uint256

event Claimed:
    period: indexed(uint256)
    index: uint256
    account: indexed(address)
    amount: uint256

owner: public(address)
token: public(IERC20)
roots: public(HashMap[uint256, bytes32])
totals: public(HashMap[uint256, uint256])
claimed_words: HashMap[uint256, HashMap[uint256, uint256]]


@deploy
def __init__(token: address):
    self.owner = msg.sender
    self.token = IERC20(token)


@external
def set_root(period: uint256, root: bytes32, total: uint256):
    assert msg.sender == self.owner, "not the owner"
    assert self.roots[period] == empty(bytes32), "period already has a root"
    assert root != empty(bytes32), "no root"
    self.roots[period] = root
    self.totals[period] = total
    log RootSet(period=period, root=root, total=total)


@view
@external
def is_claimed(period: uint256, index: uint256) -> bool:
    return (self.claimed_words[period][index // 256] >> (index % 256)) & 1 == 1


@external
def claim(period: uint256, index: uint256, account: address, amount: uint256, proof: DynArray[bytes32, 64]):
    assert msg.sender == account, "claim for another account"
    root: bytes32 = self.roots[period]
    assert root != empty(bytes32), "no root for the period"
    word: uint256 = self.claimed_words[period][index // 256]
    bit: uint256 = 1 << (index % 256)
    assert word & bit == 0, "already claimed"
    node: bytes32 = keccak256(keccak256(abi_encode(index, account, amount)))
    for p: bytes32 in proof:
        if convert(node, uint256) < convert(p, uint256):
            node = keccak256(concat(node, p))
        else:
            node = keccak256(concat(p, node))
    assert node == root, "invalid proof"
    self.claimed_words[period][index // 256] = word | bit
    assert extcall self.token.transfer(account, amount, default_return_value=True), "transfer failed"
    log Claimed(period=period, index=index, account=account, amount=amount)
