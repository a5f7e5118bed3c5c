# pragma version ~=0.4.0
"""
@title abs_engine batch distributor
@notice Pays one deal's instructions, batch by batch. The owner calls distribute() with the
        period, the batch index, the batch's content id, its recipients, amounts and their exact
        total. The contract recomputes the content id from what it is asked to pay:
            keccak256(abi_encode(chain.id, token, self, deal_id, period, batch, recipients, amounts))
        and refuses a call whose id does not match, so a recipient or an amount changed after the
        instruction was built (and signed off) cannot be paid. Each (period, batch) is paid once;
        the total must be the sum of the amounts; the zero address is refused; the contract must
        hold the funds. Funds not paid (withheld holders) stay in the contract until a release
        instruction pays them. Ownership moves in two steps (transfer, then accept).
"""

from ethereum.ercs import IERC20

MAX_RECIPIENTS: constant(uint256) = 512

event Distributed:
    period: indexed(uint256)
    batch: indexed(uint256)
    content_id: bytes32
    recipients: uint256
    total: uint256

event OwnershipTransferStarted:
    previous_owner: indexed(address)
    new_owner: indexed(address)

event OwnershipTransferred:
    previous_owner: indexed(address)
    new_owner: indexed(address)

owner: public(address)
pending_owner: public(address)
token: public(IERC20)
deal_id: public(bytes32)
paid: public(HashMap[uint256, HashMap[uint256, bytes32]])


@deploy
def __init__(token: address, deal_id: bytes32):
    assert token != empty(address), "no token"
    assert deal_id != empty(bytes32), "no deal id"
    self.owner = msg.sender
    self.token = IERC20(token)
    self.deal_id = deal_id


@view
@external
def content_id(period: uint256, batch: uint256, recipients: DynArray[address, MAX_RECIPIENTS],
               amounts: DynArray[uint256, MAX_RECIPIENTS]) -> bytes32:
    """The content id this contract pays under for these recipients and amounts."""
    return keccak256(abi_encode(chain.id, self.token.address, self, self.deal_id, period, batch, recipients, amounts))


@external
def distribute(period: uint256, batch: uint256, content_id: bytes32, recipients: DynArray[address, MAX_RECIPIENTS],
               amounts: DynArray[uint256, MAX_RECIPIENTS], total: uint256):
    assert msg.sender == self.owner, "not the owner"
    assert self.paid[period][batch] == empty(bytes32), "batch already paid"
    assert len(recipients) == len(amounts), "recipients and amounts differ in length"
    expected: bytes32 = keccak256(abi_encode(chain.id, self.token.address, self, self.deal_id, period, batch,
                                             recipients, amounts))
    assert content_id == expected, "content id does not match the recipients and amounts"
    s: uint256 = 0
    for a: uint256 in amounts:
        s += a
    assert s == total, "total is not the sum of the amounts"
    assert staticcall self.token.balanceOf(self) >= total, "not funded"
    self.paid[period][batch] = content_id
    for i: uint256 in range(len(recipients), bound=MAX_RECIPIENTS):
        assert recipients[i] != empty(address), "zero address"
        assert extcall self.token.transfer(recipients[i], amounts[i], default_return_value=True), "transfer failed"
    log Distributed(period=period, batch=batch, content_id=content_id, recipients=len(recipients), total=total)


@external
def transfer_ownership(new_owner: address):
    assert msg.sender == self.owner, "not the owner"
    self.pending_owner = new_owner
    log OwnershipTransferStarted(previous_owner=self.owner, new_owner=new_owner)


@external
def accept_ownership():
    assert msg.sender == self.pending_owner, "not the pending owner"
    log OwnershipTransferred(previous_owner=self.owner, new_owner=msg.sender)
    self.owner = msg.sender
    self.pending_owner = empty(address)
