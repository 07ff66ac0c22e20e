"""What settlements ask of the Solana adapter, against the local JSON-RPC server (LiteSVM
executes; testing/solana_local.py): sweep transactions built and signed by
chains/signing/solana.py, sent with send_raw (already processed is success, an expired
blockhash is refused), their status and metadata, balances, rent, fees, blockhashes."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair

from chains.adapters.base import ChainUnavailable
from chains.adapters.solana import SendRefused, SolanaAdapter
from chains.signing import solana as signing
from testing.solana_local import create_mint, mint_to, token_account


@pytest.fixture
def sol(local_solana):
    return local_solana


@pytest.fixture
def adapter(sol):
    adapter = SolanaAdapter(network="solana", mode="live", rpc_url=sol.url)
    yield adapter
    adapter.close()


def _sweep(adapter, fee_payer: Keypair, deposit: Keypair, to: str, lamports: int):
    blockhash, valid_until = adapter.latest_blockhash()
    message = signing.sol_sweep_message(fee_payer=str(fee_payer.pubkey()), deposit=str(deposit.pubkey()),
                                        transfers=[(to, lamports)], blockhash=blockhash)
    return signing.sign(message, [fee_payer, deposit]), message, valid_until


def test_a_sweep_is_paid_by_the_fee_payer_and_its_id_known_before_sending(sol, adapter):
    fee_payer, deposit = sol.funded_keypair(10**9), sol.funded_keypair(10**9)
    to = str(Keypair().pubkey())
    signed, message, valid_until = _sweep(adapter, fee_payer, deposit, to, 10**9)
    assert valid_until == sol.block_height + 150
    assert adapter.fee_for_message(signing.message_bytes(message)) == 10_000  # two signatures
    assert adapter.signature_status(signed.signature) is None

    assert adapter.send_raw(signed.raw) == signed.signature
    status = adapter.signature_status(signed.signature)
    assert status.confirmation_status == "processed" and adapter.transaction(signed.signature) is None
    assert adapter.send_raw(signed.raw) == signed.signature  # AlreadyProcessed is success

    slot = sol.produce_block()
    status = adapter.signature_status(signed.signature)
    assert (status.slot, status.confirmation_status, status.confirmations, status.err) == (slot, "finalized", None,
                                                                                            None)
    meta = adapter.transaction(signed.signature)
    assert meta.fee == 10_000 and meta.account_keys[:2] == [str(fee_payer.pubkey()), str(deposit.pubkey())]
    assert adapter.lamports(str(deposit.pubkey())) == 0 and adapter.lamports(to) == 10**9
    assert adapter.lamports(str(fee_payer.pubkey())) == 10**9 - 10_000


def test_a_blockhash_is_usable_for_150_blocks_then_refused(sol, adapter):
    fee_payer, deposit = sol.funded_keypair(10**9), sol.funded_keypair(10**9)
    signed, message, valid_until = _sweep(adapter, fee_payer, deposit, str(Keypair().pubkey()), 10**8)
    sol.produce_blocks(valid_until - sol.block_height - 1)  # the open block is at valid_until
    assert adapter.fee_for_message(signing.message_bytes(message)) == 10_000
    sol.produce_block()  # past it
    assert adapter.fee_for_message(signing.message_bytes(message)) is None
    with pytest.raises(SendRefused) as refused:
        adapter.send_raw(signed.raw)
    assert refused.value.err == "BlockhashNotFound"
    # The newest block is at the last valid height: nothing referencing the blockhash can come
    # after it. (Settlements call it expired one block later, once the height is past it.)
    assert adapter.block_height() == valid_until and adapter.signature_status(signed.signature) is None


def test_a_refusal_of_the_transaction_is_not_an_outage(sol, adapter):
    poor = Keypair()  # the fee payer does not exist: refused before execution
    signed, _, _ = _sweep(adapter, poor, sol.funded_keypair(10**9), str(Keypair().pubkey()), 10**8)
    with pytest.raises(SendRefused):
        adapter.send_raw(signed.raw)
    sol.fault = "http500"
    with pytest.raises(ChainUnavailable):
        adapter.send_raw(signed.raw)


def test_lost_sends_are_answered_but_never_land(sol, adapter):
    fee_payer, deposit = sol.funded_keypair(10**9), sol.funded_keypair(10**9)
    signed, _, _ = _sweep(adapter, fee_payer, deposit, str(Keypair().pubkey()), 10**8)
    sol.lose_sends = True
    assert adapter.send_raw(signed.raw) == signed.signature
    sol.produce_block()
    assert adapter.signature_status(signed.signature) is None and adapter.lamports(str(deposit.pubkey())) == 10**9


def test_token_accounts_rent_and_account_reads(sol, adapter):
    payer = sol.funded_keypair(10**10)
    mint = create_mint(sol, payer, decimals=6)
    owner = Keypair().pubkey()
    ata = str(token_account(owner, mint))
    assert signing.associated_token_address(str(owner), str(mint)) == ata
    assert adapter.token_balance(ata) is None and adapter.account(ata) is None
    mint_to(sol, payer, mint, owner, 1_500_000)
    assert adapter.token_balance(ata) == (1_500_000, 6)
    account = adapter.account(ata)
    assert (account.lamports, account.space) == (2_039_280, 165)
    assert adapter.rent_minimum(0) == 890_880 and adapter.rent_minimum(165) == 2_039_280
    with pytest.raises(ChainUnavailable):  # an account that is no token account is no "missing"
        adapter.token_balance(str(payer.pubkey()))


def test_a_token_sweep_creates_transfers_and_closes_in_one_transaction(sol, adapter):
    payer = sol.funded_keypair(10**10)
    mint = create_mint(sol, payer, decimals=6)
    fee_payer, deposit = sol.funded_keypair(10**10), Keypair()
    merchant, operator = Keypair().pubkey(), Keypair().pubkey()
    mint_to(sol, payer, mint, deposit.pubkey(), 25_000_000)
    before = adapter.lamports(str(fee_payer.pubkey()))
    blockhash, _ = adapter.latest_blockhash()
    message = signing.token_sweep_message(
        fee_payer=str(fee_payer.pubkey()), deposit=str(deposit.pubkey()), mint=str(mint), decimals=6,
        transfers=[(str(merchant), 24_750_000), (str(operator), 250_000)], create_for=[str(merchant), str(operator)],
        close=True, blockhash=blockhash)
    signed = signing.sign(message, [fee_payer, deposit])
    adapter.send_raw(signed.raw)
    sol.produce_block()
    assert adapter.signature_status(signed.signature).err is None
    assert adapter.token_balance(str(token_account(merchant, mint))) == (24_750_000, 6)
    assert adapter.token_balance(str(token_account(operator, mint))) == (250_000, 6)
    assert adapter.account(str(token_account(deposit.pubkey(), mint))) is None
    assert adapter.lamports(str(fee_payer.pubkey())) == before - 10_000 - 2_039_280  # 2 created, 1 closed
