"""chains.adapters.tron.TronAdapter against testing/tron_fake.py: no java-tron node can run
here, so a local HTTP server answers the full node's HTTP API shapes over blocks holding
transactions these tests build and sign (secp256k1, eth-account keys; the fake checks the
signatures)."""

from __future__ import annotations

import pytest
from eth_account import Account

from chains.adapters import tron as tron_module
from chains.adapters.base import ChainUnavailable, Observed, Watch
from chains.adapters.tron import TronAdapter
from chains.encoding import tron_address_from_hex
from testing.httpserver import closed_url
from testing.tron_fake import TronFakeError, sign_transaction, trc20_transfer, tron_hex, trx_transfer

# Test-only keys: never funded on any real chain.
PAYER, DEPOSIT, SECOND, STRANGER = (Account.from_key(bytes([n]) * 32) for n in (1, 2, 3, 4))


def T(account_or_hex) -> str:
    return tron_address_from_hex(account_or_hex if isinstance(account_or_hex, str) else tron_hex(account_or_hex))


@pytest.fixture
def node(tron_fake):
    """The session's Tron stand-in on a fresh chain (testing/fixtures.py), 4 blocks long."""
    tron_fake.produce_blocks(3)
    return tron_fake


@pytest.fixture
def adapter(node):
    adapter = TronAdapter(mode="live", rpc_url=node.url)
    yield adapter
    adapter.close()


@pytest.fixture
def token(node):
    return node.deploy_trc20(tron_hex(PAYER), 10**12)


def _send(node, tx, key=PAYER.key, **outcome) -> str:
    return node.broadcast(sign_transaction(tx, key), **outcome)


def _trx(node, to, sun, **outcome):
    return _send(node, trx_transfer(tron_hex(PAYER), tron_hex(to), sun, ref_block=node.head), **outcome)


def _usdt(node, token, to, units, **outcome):
    return _send(node, trc20_transfer(tron_hex(PAYER), token, tron_hex(to), units, ref_block=node.head), **outcome)


def _watch(token=None, *accounts):
    return Watch(addresses=frozenset(T(a) for a in (accounts or (DEPOSIT,))),
                 tokens={T(token): "USDT"} if token else {})


def _one_block(node):
    [block] = node.produce_blocks(1)
    return block["block_header"]["raw_data"]["number"], block["blockID"]


def test_head_and_block(node, adapter):
    head = adapter.head()
    raw = node.head["block_header"]["raw_data"]
    assert (head.number, head.hash, head.timestamp) == (raw["number"], node.head["blockID"], raw["timestamp"] // 1000)
    assert adapter.block(head.number) == head
    assert adapter.block(0).number == 0
    assert adapter.block(head.number + 1) is None


def test_trx_and_trc20_transfers_are_seen(node, adapter, token):
    trx = _trx(node, DEPOSIT, 1_500_000)
    usdt = _usdt(node, token, DEPOSIT, 25_000_000)
    number, block_id = _one_block(node)

    found = adapter.scan(from_block=number, to_block=number, watch=_watch(token))
    assert found == [
        Observed(tx_hash=trx, index=0, to_address=T(DEPOSIT), asset="TRX", amount_base_units=1_500_000,
                 sender=T(PAYER), block_number=number, block_hash=block_id),
        Observed(tx_hash=usdt, index=0, to_address=T(DEPOSIT), asset="USDT", amount_base_units=25_000_000,
                 sender=T(PAYER), block_number=number, block_hash=block_id),
    ]


def test_unwatched_recipients_and_contracts_are_ignored(node, adapter, token):
    other_token = node.deploy_trc20(tron_hex(PAYER), 10**12)
    _trx(node, STRANGER, 1_000_000)
    _usdt(node, token, STRANGER, 5)
    _usdt(node, other_token, DEPOSIT, 5)  # a token nobody watches
    number, _ = _one_block(node)
    assert adapter.scan(from_block=number, to_block=number, watch=_watch(token)) == []
    assert adapter.scan(from_block=number, to_block=number, watch=_watch()) == []  # no tokens watched


def test_failed_transactions_are_ignored(node, adapter, token):
    _usdt(node, token, DEPOSIT, 10**15)  # more than the payer holds: the contract reverts
    _trx(node, DEPOSIT, 7, contract_ret="OUT_OF_ENERGY")
    _usdt(node, token, DEPOSIT, 3, receipt_result="REVERT")  # the block says SUCCESS, the receipt does not
    number, _ = _one_block(node)
    assert adapter.scan(from_block=number, to_block=number, watch=_watch(token)) == []
    infos = [path for path, _ in node.requests if path == "/wallet/gettransactioninfobyid"]
    assert len(infos) == 1  # only the match the block called a success is looked up


def test_many_watched_addresses_and_blocks_past_one_call(node, adapter, token, monkeypatch):
    monkeypatch.setattr(tron_module, "BLOCKS_PER_CALL", 2)
    deposits = [Account.from_key(bytes([50 + n]) * 32) for n in range(20)]
    first = node.head["block_header"]["raw_data"]["number"] + 1
    expected = []
    for n, deposit in enumerate(deposits):
        expected.append(_trx(node, deposit, 100 + n) if n % 2 else _usdt(node, token, deposit, 100 + n))
        node.produce_blocks(1)
    last = node.head["block_header"]["raw_data"]["number"]
    before = len(node.requests)
    found = adapter.scan(from_block=first, to_block=last, watch=_watch(token, *deposits))
    assert [o.tx_hash for o in found] == expected
    assert [o.amount_base_units for o in found] == [100 + n for n in range(20)]
    calls = [path for path, _ in node.requests[before:]]
    assert calls.count("/wallet/getblockbylimitnext") == 10


def test_a_range_past_the_head_or_a_broken_chain_is_unavailable(node, adapter, token):
    head = node.head["block_header"]["raw_data"]["number"]
    with pytest.raises(ChainUnavailable, match="not all on the node"):
        adapter.scan(from_block=head, to_block=head + 1, watch=_watch(token))
    node.blocks[head]["block_header"]["raw_data"]["parentHash"] = "ff" * 32
    with pytest.raises(ChainUnavailable, match="changed during the scan"):
        adapter.scan(from_block=head - 1, to_block=head, watch=_watch(token))


def test_a_reorged_block_changes_its_hash(node, adapter):
    number, block_id = _one_block(node)
    node.fork(number - 1)
    node.produce_blocks(2)
    assert adapter.block(number).hash != block_id


def test_node_errors_are_chain_unavailable(node, adapter):
    node.fail_next = 1
    with pytest.raises(ChainUnavailable, match="HTTP 503"):
        adapter.head()
    down = TronAdapter(mode="live", rpc_url=closed_url(), timeout=2)
    with pytest.raises(ChainUnavailable):
        down.block(1)
    with pytest.raises(ChainUnavailable, match="IllegalArgument"):
        adapter._post("/wallet/getblockbylimitnext", {"startNum": 5, "endNum": 5})


def test_the_fake_refuses_a_transaction_signed_by_another_key(node):
    tx = trx_transfer(tron_hex(PAYER), tron_hex(DEPOSIT), 1)
    with pytest.raises(TronFakeError, match="not the owner"):
        node.broadcast(sign_transaction(tx, STRANGER.key))
    tampered = sign_transaction(tx, PAYER.key)
    tampered["raw_data"]["contract"][0]["parameter"]["value"]["amount"] = 10**9
    with pytest.raises(TronFakeError, match="txID"):
        node.broadcast(tampered)


def test_normalize(adapter):
    base58 = T(DEPOSIT)
    assert adapter.normalize(base58) == base58
    assert adapter.normalize(tron_hex(DEPOSIT)) == base58
    assert adapter.normalize(tron_hex(DEPOSIT).upper()) == base58
    for junk in ("", base58[:-1] + ("a" if base58[-1] != "a" else "b"), " " + base58, DEPOSIT.address,
                 "42" + tron_hex(DEPOSIT)[2:], None, 7):
        with pytest.raises(ValueError):
            adapter.normalize(junk)


def test_registry_builds_the_tron_adapter(settings, node):
    from chains.adapters.registry import adapter_for

    settings.FLUXA_CHAINS = {"tron": {"live": node.url}}
    adapter = adapter_for("tron", "live")
    assert isinstance(adapter, TronAdapter) and adapter.network == "tron"
