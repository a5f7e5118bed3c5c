# pragma version ~=0.4.0
"""
@title abs_engine batch distributor
@notice Pays a period's instruction once: the owner calls distribute() with the period, the
        instruction's content id, recipients and amounts, and their exact total. A period that
        was paid is refused; so is a total that is not the sum of the amounts. Funds not paid
        (withheld holders) stay in the contract.
"""

from ethereum.ercs import IERC20

MAX_RECIPIENTS: constant(uint256) = 1024

event Distributed:
    period: indexed(uint256)
    content_id: bytes32
    recipients: uint256
    total: uint256

owner: public(address)
token: public(IERC20)
paid: public(HashMap[uint256, bytes32])


@deploy
def __init__(token: address):
    self.owner = msg.sender
    self.token = IERC20(token)


@external
def distribute(period: uint256, content_id: bytes32, recipients: DynArray[address, MAX_RECIPIENTS],
               amounts: DynArray[uint256, MAX_RECIPIENTS], total: uint256):
    assert msg.sender == self.owner, "not the owner"
    assert content_id != empty(bytes32), "no content id"
    assert self.paid[period] == empty(bytes32), "period already paid"
    assert len(recipients) == len(amounts), "recipients and amounts differ in length"
    s: uint256 = 0
    for a: uint256 in amounts:
        s += a
    assert s == total, "total is not the sum of the amounts"
    assert staticcall self.token.balanceOf(self) >= total, "not funded"
    self.paid[period] = content_id
    for i: uint256 in range(len(recipients), bound=MAX_RECIPIENTS):
        assert extcall self.token.transfer(recipients[i], amounts[i], default_return_value=True), "transfer failed"
    log Distributed(period=period, content_id=content_id, recipients=len(recipients), total=total)
