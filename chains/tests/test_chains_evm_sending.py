"""What the settlement engine sends and reads through EvmAdapter, against the session's anvil,
and the pure signing of chains/signing/evm.py."""

from __future__ import annotations

import json

import pytest
from eth_account import Account
from web3 import Web3

from chains.adapters.base import ChainUnavailable
from chains.adapters.evm import EvmAdapter, TxRefused
from chains.derivation import SigningKey
from chains.signing.evm import bumped, decode, erc20_transfer_data, sign_type2
from testing.anvil import DEV_PRIVATE_KEYS, TEST_TOKEN_ARTIFACT
from testing.httpserver import closed_url

ARTIFACT = json.loads(TEST_TOKEN_ARTIFACT.read_text())
KEY = DEV_PRIVATE_KEYS[2]  # anvil's public dev account: test money only
SENDER = Account.from_key(KEY).address.lower()


def _key() -> SigningKey:
    return SigningKey(network="ethereum", mode="live", index=0, path="m/test", address=SENDER, curve="secp256k1",
                      public_key=b"", secret=bytes.fromhex(KEY[2:]))


@pytest.fixture(scope="module")
def adapter(anvil):
    return EvmAdapter(network="ethereum", mode="live", rpc_url=anvil.url)


def _transfer(adapter, *, nonce, to, value=1, max_fee=None, priority=10**9):
    fee = adapter.fee_data()
    with _key() as key:
        return sign_type2(key, chain_id=1, nonce=nonce, to=to, value=value, gas=21_000,
                          max_fee_per_gas=max_fee or 2 * fee.base_fee + priority, max_priority_fee_per_gas=priority)


def test_signing_is_pure_and_round_trips():
    to = Account.create().address
    with _key() as key:
        signed = sign_type2(key, chain_id=1, nonce=7, to=to, value=123, gas=21_000, max_fee_per_gas=30,
                            max_priority_fee_per_gas=2)
    again = sign_type2(_key(), chain_id=1, nonce=7, to=to, value=123, gas=21_000, max_fee_per_gas=30,
                       max_priority_fee_per_gas=2)
    assert signed.raw == again.raw and signed.raw[0] == 2  # deterministic (RFC 6979), type 2
    assert signed.txid == "0x" + Web3.keccak(signed.raw).hex().removeprefix("0x")
    fields = decode(signed.raw)
    assert fields == {"nonce": 7, "to": to.lower(), "value": 123, "gas": 21_000, "max_fee_per_gas": 30,
                      "max_priority_fee_per_gas": 2, "data": b"", "sender": SENDER}
    with pytest.raises(ValueError):
        sign_type2(_key(), chain_id=1, nonce=0, to=to, value=1, gas=21_000, max_fee_per_gas=1,
                   max_priority_fee_per_gas=2)


def test_the_token_transfer_calldata_and_the_replacement_bump():
    data = erc20_transfer_data("0x" + "ab" * 20, 25_000_000)
    assert data.hex() == "a9059cbb" + "00" * 12 + "ab" * 20 + (25_000_000).to_bytes(32, "big").hex()
    assert [bumped(v) for v in (8, 100, 1_000_000_000, 1)] == [9, 113, 1_125_000_000, 2]


def test_send_is_success_when_the_node_already_has_it_or_it_landed(adapter, anvil):
    nonce = adapter.transaction_count(SENDER)
    signed = _transfer(adapter, nonce=nonce, to=Account.create().address)
    assert adapter.send_raw(signed.raw) == signed.txid
    assert adapter.send_raw(signed.raw) == signed.txid  # landed: "nonce too low" for this very tx
    looked = adapter.tx_lookup(signed.txid)
    assert looked.in_block and looked.succeeded and looked.confirmations == 1
    receipt = anvil.rpc("eth_getTransactionReceipt", [signed.txid])
    assert looked.cost_wei == int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
    anvil.mine(2)
    assert adapter.tx_lookup(signed.txid).confirmations == 3

    anvil.rpc("evm_setAutomine", [False])
    try:
        pending = _transfer(adapter, nonce=nonce + 1, to=Account.create().address)
        adapter.send_raw(pending.raw)
        assert adapter.send_raw(pending.raw) == pending.txid  # already known
        looked = adapter.tx_lookup(pending.txid)
        assert looked.found and not looked.in_block and looked.nonce == nonce + 1
        same_price = _transfer(adapter, nonce=nonce + 1, to=Account.create().address, max_fee=None)
        with pytest.raises(TxRefused):  # a replacement must pay more
            adapter.send_raw(same_price.raw)
    finally:
        anvil.rpc("evm_setAutomine", [True])
    anvil.mine(1)
    other = _transfer(adapter, nonce=nonce, to=Account.create().address, value=2)
    with pytest.raises(TxRefused) as refused:  # another transaction took that nonce
        adapter.send_raw(other.raw)
    assert refused.value.nonce_used
    assert not adapter.tx_lookup("0x" + "00" * 32).found


def test_balances_fee_data_and_estimates(adapter, anvil):
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    contract = w3.eth.contract(abi=ARTIFACT["abi"], bytecode=ARTIFACT["bytecode"])
    payer = Account.from_key(KEY)
    tx = contract.constructor().build_transaction({"from": payer.address, "nonce": adapter.transaction_count(SENDER),
                                                   "gas": 3_000_000, "maxFeePerGas": 5 * 10**10,
                                                   "maxPriorityFeePerGas": 10**9, "chainId": 1})
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(payer.sign_transaction(tx)
                                                                              .raw_transaction))
    token = receipt.contractAddress.lower()
    assert adapter.token_decimals(token) == 6
    assert adapter.token_balance(token, SENDER) == 0
    empty = Account.create().address
    assert adapter.native_balance(empty) == 0
    assert adapter.native_balance(SENDER) == w3.eth.get_balance(payer.address)
    fee = adapter.fee_data()
    assert fee.base_fee == w3.eth.get_block("latest")["baseFeePerGas"] and fee.priority_fee > 0
    assert adapter.estimate_gas(sender=empty, to=Account.create().address) == 21_000
    gas = adapter.estimate_gas(sender=SENDER, to=token, data=erc20_transfer_data(empty, 0))
    assert 21_000 < gas < 100_000
    assert adapter.transaction_count(empty) == 0


def test_an_unreachable_node_is_chain_unavailable():
    down = EvmAdapter(network="ethereum", mode="live", rpc_url=closed_url())
    for call in (down.fee_data, lambda: down.native_balance(SENDER), lambda: down.send_raw(b"\x02"),
                 lambda: down.tx_lookup("0x" + "00" * 32)):
        with pytest.raises(ChainUnavailable):
            call()
