"""chains.adapters.solana.SolanaAdapter against the local Solana JSON-RPC server
(testing/solana_local.py): real signed transactions executed by LiteSVM (System program,
SPL Token, Associated Token Account), recorded into blocks the server answers getBlock with."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair

from chains.adapters.base import BlockRef, ChainUnavailable, Observed, Watch
from chains.adapters.registry import adapter_for
from chains.adapters.solana import SolanaAdapter
from testing.httpserver import closed_url
from testing.solana_local import (
    create_mint,
    mint_to,
    token_account,
    transfer_sol,
    transfer_token,
)


@pytest.fixture
def sol(local_solana):
    """The session's Solana server on a fresh chain (testing/fixtures.py)."""
    return local_solana


@pytest.fixture
def adapter(sol):
    adapter = SolanaAdapter(network="solana", mode="live", rpc_url=sol.url)
    yield adapter
    adapter.close()


@pytest.fixture
def funded(sol):
    """A payer with SOL and 1,000 units of a fresh 6-decimal mint."""
    payer = sol.funded_keypair(10**11)
    mint = create_mint(sol, payer, decimals=6)
    mint_to(sol, payer, mint, payer.pubkey(), 1_000 * 10**6)
    sol.produce_block()
    return payer, mint


def test_head_and_block_follow_the_server(sol, adapter):
    slot = sol.produce_block()
    head = adapter.head()
    assert head.number == slot == sol.head
    assert head.hash == sol.blocks[slot]["blockhash"] and head.timestamp == sol.blocks[slot]["blockTime"]
    assert adapter.block(slot) == head
    assert adapter.block(slot + 1) is None  # past the head


def test_a_skipped_slot_is_a_hole_not_the_end_of_the_chain(sol, adapter):
    before = sol.produce_block(skip=3)
    after = sol.produce_block()
    assert after == before + 4
    assert adapter.block(before + 2) == BlockRef(number=before + 2, hash="", timestamp=0)
    assert adapter.block(after).hash == sol.blocks[after]["blockhash"]
    assert adapter.block(after + 1) is None


def test_sol_and_spl_payments_to_watched_owners(sol, adapter, funded):
    payer, mint = funded
    deposit, other, unwatched = Keypair().pubkey(), Keypair().pubkey(), Keypair().pubkey()
    first = sol.slot
    sol_sig = transfer_sol(sol, payer, deposit, 250_000_000)
    spl_sig = transfer_token(sol, payer, mint, other, 12_500_000)  # creates other's token account
    transfer_sol(sol, payer, unwatched, 1_000)
    transfer_token(sol, payer, mint, unwatched, 7)
    block = sol.produce_block()
    transfer_token(sol, payer, mint, other, 1_000_000)  # the token account exists now
    second = sol.produce_block(skip=1)
    sol.produce_block()

    watch = Watch(addresses=frozenset({str(deposit), str(other)}), tokens={str(mint): "USDC"})
    found = adapter.scan(from_block=first, to_block=sol.head, watch=watch)

    block_hash = sol.blocks[block]["blockhash"]
    sol_keys = sol.blocks[block]["transactions"][0].account_keys
    spl_tx = sol.blocks[block]["transactions"][1]
    ata_index = spl_tx.account_keys.index(str(token_account(other, mint)))
    assert found[:2] == [
        Observed(tx_hash=sol_sig, index=sol_keys.index(str(deposit)), to_address=str(deposit), asset="SOL",
                 amount_base_units=250_000_000, sender=str(payer.pubkey()), block_number=block, block_hash=block_hash),
        Observed(tx_hash=spl_sig, index=ata_index, to_address=str(other), asset="USDC",
                 amount_base_units=12_500_000, sender=str(payer.pubkey()), block_number=block, block_hash=block_hash),
    ]
    assert len(found) == 3 and found[2].block_number == second and found[2].amount_base_units == 1_000_000
    assert found[2].to_address == str(other) and found[2].asset == "USDC"


def test_a_token_not_watched_and_the_rent_of_a_token_account_are_not_payments(sol, adapter, funded):
    payer, mint = funded
    deposit = Keypair().pubkey()
    first = sol.slot
    transfer_token(sol, payer, mint, deposit, 5_000_000)
    sol.produce_block()
    watch = Watch(addresses=frozenset({str(deposit)}), tokens={})
    assert adapter.scan(from_block=first, to_block=sol.head, watch=watch) == []
    # the token account (not the owner) received the rent: nothing for SOL either
    watch = Watch(addresses=frozenset({str(deposit)}), tokens={str(Keypair().pubkey()): "USDC"})
    assert adapter.scan(from_block=first, to_block=sol.head, watch=watch) == []


def test_a_failed_transaction_is_ignored(sol, adapter, funded):
    payer, mint = funded
    deposit = Keypair().pubkey()
    first = sol.slot
    mint_to(sol, payer, mint, deposit, 0)  # the deposit's token account, empty
    failed = transfer_token(sol, payer, mint, deposit, 10**15)  # more than the payer has: fails in the program
    slot = sol.produce_block()
    [tx] = [tx for tx in sol.blocks[slot]["transactions"] if tx.signatures[0] == failed]
    assert tx.meta["err"] is not None and tx.meta["fee"] > 0  # it is in the block, with its error
    watch = Watch(addresses=frozenset({str(deposit)}), tokens={str(mint): "USDC"})
    assert adapter.scan(from_block=first, to_block=sol.head, watch=watch) == []


def test_meta_err_alone_makes_a_transfer_not_count(sol, adapter, funded):
    """A block doctored so a transaction that moved SOL carries an error: left out."""
    payer, _ = funded
    deposit = Keypair().pubkey()
    first = sol.slot
    transfer_sol(sol, payer, deposit, 10**6)
    sol.produce_block()
    watch = Watch(addresses=frozenset({str(deposit)}))
    assert len(adapter.scan(from_block=first, to_block=sol.head, watch=watch)) == 1

    def fail_all(block):
        for tx in block.get("transactions", ()):
            tx["meta"]["err"] = {"InstructionError": [0, {"Custom": 1}]}
        return block

    sol.tamper["getBlock"] = fail_all
    assert adapter.scan(from_block=first, to_block=sol.head, watch=watch) == []


def test_many_watched_addresses(sol, adapter, funded):
    payer, mint = funded
    watched = [Keypair().pubkey() for _ in range(2_000)]
    paid = watched[::250]
    first = sol.slot
    for n, owner in enumerate(paid):
        transfer_sol(sol, payer, owner, 1_000_000 + n)
        transfer_token(sol, payer, mint, owner, 2_000_000 + n)
        if n % 3 == 0:
            sol.produce_block()
    sol.produce_block()
    watch = Watch(addresses=frozenset(str(k) for k in watched), tokens={str(mint): "USDC"})
    found = adapter.scan(from_block=first, to_block=sol.head, watch=watch)
    assert sorted((o.to_address, o.asset, o.amount_base_units) for o in found) == sorted(
        [(str(k), "SOL", 1_000_000 + n) for n, k in enumerate(paid)]
        + [(str(k), "USDC", 2_000_000 + n) for n, k in enumerate(paid)])
    assert len({(o.tx_hash, o.index) for o in found}) == len(found)


def test_scanning_nothing_watched_reads_nothing(sol, adapter):
    sol.fault = "http500"
    assert adapter.scan(from_block=0, to_block=10, watch=Watch(addresses=frozenset())) == []


@pytest.mark.parametrize("fault", ["http500", "garbage", "rpc-error"])
def test_node_errors_raise_chain_unavailable(sol, adapter, fault):
    sol.produce_block()
    sol.fault = fault
    watch = Watch(addresses=frozenset({str(Keypair().pubkey())}))
    with pytest.raises(ChainUnavailable):
        adapter.head()
    with pytest.raises(ChainUnavailable):
        adapter.block(sol.head)
    with pytest.raises(ChainUnavailable):
        adapter.scan(from_block=sol.first_slot, to_block=sol.head, watch=watch)


def test_a_malformed_block_raises_chain_unavailable(sol, adapter, funded):
    payer, _ = funded
    deposit = Keypair().pubkey()
    first = sol.slot
    transfer_sol(sol, payer, deposit, 10**6)
    sol.produce_block()
    sol.tamper["getBlock"] = lambda block: {**block, "transactions": [{"meta": {"err": None}}]}
    with pytest.raises(ChainUnavailable):
        adapter.scan(from_block=first, to_block=sol.head, watch=Watch(addresses=frozenset({str(deposit)})))


def test_blocks_that_do_not_chain_raise_chain_unavailable(sol, adapter):
    first = sol.produce_block()
    sol.produce_block()
    sol.tamper["getBlock"] = lambda block: {**block, "previousBlockhash": "1" * 32}
    with pytest.raises(ChainUnavailable, match="chain changed"):
        adapter.scan(from_block=first, to_block=sol.head, watch=Watch(addresses=frozenset({str(Keypair().pubkey())})))


def test_a_closed_port_raises_chain_unavailable():
    adapter = SolanaAdapter(network="solana", mode="live", rpc_url=closed_url(), timeout=2)
    with pytest.raises(ChainUnavailable):
        adapter.head()


def test_normalize():
    adapter = SolanaAdapter(network="solana", mode="test", rpc_url="http://127.0.0.1:1")
    key = str(Keypair().pubkey())
    assert adapter.normalize(key) == key
    assert adapter.normalize("11111111111111111111111111111111") == "11111111111111111111111111111111"
    for junk in ["", " " + key, key + "x", "O" + key[1:], "0x" + "ab" * 32,
                 "ltc1qxyz", None, 5]:
        with pytest.raises(ValueError):
            adapter.normalize(junk)


def test_the_registry_builds_the_adapter(settings):
    settings.FLUXA_CHAINS = {"solana": {"live": "http://127.0.0.1:8899"}}
    adapter = adapter_for("solana", "live")
    assert isinstance(adapter, SolanaAdapter) and (adapter.network, adapter.mode) == ("solana", "live")
    with pytest.raises(ValueError):
        SolanaAdapter(network="ethereum", mode="live", rpc_url="http://127.0.0.1:1")
