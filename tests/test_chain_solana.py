"""Chain watching end to end on Solana: live-mode `sol` and `usdc_sol` charges through the
signed API, paid with real signed transactions executed by LiteSVM behind the local JSON-RPC
server (testing/solana_local.py: a validator cannot run here), the scanner, confirmations
(counted in slots above the finalized block), partial payments, skipped slots."""

from __future__ import annotations

from decimal import Decimal

import pytest
from solders.pubkey import Pubkey

from chains.adapters.registry import adapter_for
from chains.adapters.solana import SolanaAdapter
from charges.models import Channel
from charges.watching import network_scan
from orders.models import Order, OrderEvent
from testing.client import charge_to_pay, order_state
from testing.solana_local import create_mint, mint_to, token_account, transfer_sol, transfer_token
from wallets.models import ChainCursor, Transfer

CONFIRMATIONS = 2
SOL = {"channel": "sol", "currency": "SOL"}
USDC_SOL = {"channel": "usdc_sol", "currency": "USDC"}

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(local_solana, settings):
    """A fresh 6-decimal mint wired in as the live usdc_sol mint, a funded payer holding it,
    the server configured as fluxa's solana live RPC, the cursor at today's head."""
    local = local_solana
    payer = local.funded_keypair(10**12)
    mint = create_mint(local, payer, decimals=6)
    mint_to(local, payer, mint, payer.pubkey(), 10**12)
    local.produce_block()
    Channel.objects.filter(code="usdc_sol").update(token_contract=str(mint), required_confirmations=CONFIRMATIONS)
    Channel.objects.filter(code="sol").update(required_confirmations=CONFIRMATIONS)
    settings.FLUXA_CHAINS = {"solana": {"live": local.url}}
    adapter = adapter_for("solana", "live")
    assert isinstance(adapter, SolanaAdapter)
    network_scan(adapter=adapter, start_back=0)
    yield type("Chain", (), {"local": local, "adapter": adapter, "payer": payer, "mint": mint})
    adapter.close()


def test_a_sol_payment_goes_pending_then_paid_after_confirmations(chain, live_api):
    order_id, address = charge_to_pay(live_api, **SOL, amount="0.5")
    assert str(Pubkey.from_string(address)) == address  # a base58 public key

    signature = transfer_sol(chain.local, chain.payer, Pubkey.from_string(address), 500_000_000)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("created", "")  # executed, but its block is not sealed yet

    slot = chain.local.produce_block()
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("pending", "")

    chain.local.produce_block(skip=3)  # skipped slots count as slots
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("paid", "")
    transfer = Transfer.objects.get(order_id=order_id)
    assert (transfer.tx_hash, transfer.asset, transfer.amount) == (signature, "SOL", Decimal("0.5"))
    assert (transfer.block_number, transfer.block_hash) == (slot, chain.local.blocks[slot]["blockhash"])
    assert transfer.sender == str(chain.payer.pubkey()) and transfer.status == "confirmed"
    assert list(OrderEvent.objects.filter(order_id=order_id).values_list("to_status", flat=True)) == [
        "created", "pending", "paid"]


def test_a_usdc_payment_to_the_deposit_addresss_token_account(chain, live_api):
    order_id, address = charge_to_pay(live_api, **USDC_SOL, amount="25")
    owner = Pubkey.from_string(address)

    signature = transfer_token(chain.local, chain.payer, chain.mint, owner, 25_000_000)  # creates the ATA
    chain.local.produce_block()
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("pending", "")

    chain.local.produce_blocks(CONFIRMATIONS - 1)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("paid", "")
    transfer = Transfer.objects.get(order_id=order_id)
    assert (transfer.tx_hash, transfer.asset, transfer.amount) == (signature, "USDC", Decimal("25"))
    assert transfer.deposit_address.address == address
    [tx] = [tx for tx in chain.local.blocks[transfer.block_number]["transactions"] if tx.signatures[0] == signature]
    assert tx.account_keys[transfer.log_index] == str(token_account(owner, chain.mint))


def test_a_partial_payment_stays_pending_and_two_payments_are_summed(chain, live_api):
    order_id, address = charge_to_pay(live_api, **USDC_SOL, amount="25")
    owner = Pubkey.from_string(address)

    transfer_token(chain.local, chain.payer, chain.mint, owner, 10_000_000)
    chain.local.produce_blocks(CONFIRMATIONS)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("pending", "underpaid")

    transfer_token(chain.local, chain.payer, chain.mint, owner, 15_000_000, create=False)
    chain.local.produce_blocks(CONFIRMATIONS)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("paid", "")
    assert Order.objects.get(pk=order_id).amount_confirmed == Decimal("25")
    assert Transfer.objects.filter(order_id=order_id).count() == 2


def test_a_partial_sol_payment_is_underpaid(chain, live_api):
    order_id, address = charge_to_pay(live_api, **SOL, amount="0.5")
    transfer_sol(chain.local, chain.payer, Pubkey.from_string(address), 200_000_000)
    chain.local.produce_blocks(CONFIRMATIONS)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("pending", "underpaid")


def test_the_cursor_can_rest_on_a_skipped_slot(chain, live_api):
    order_id, address = charge_to_pay(live_api, **SOL, amount="0.5")
    before = chain.local.produce_block(skip=5)
    chain.local.produce_block()
    cursor = ChainCursor.objects.get(network="solana", mode="live")
    assert cursor.last_block == before - 1
    network_scan(adapter=chain.adapter, batch=3)  # ends inside the skipped slots
    cursor.refresh_from_db()
    assert cursor.last_block == before + 2 and cursor.last_block_hash == ""
    network_scan(adapter=chain.adapter, batch=3)  # the reorg check passes on the hole
    cursor.refresh_from_db()
    assert cursor.last_block == before + 5 and cursor.last_block_hash == ""

    transfer_sol(chain.local, chain.payer, Pubkey.from_string(address), 500_000_000)
    chain.local.produce_blocks(CONFIRMATIONS)
    network_scan(adapter=chain.adapter)
    assert order_state(order_id) == ("paid", "")


def test_scanning_the_same_range_twice_records_each_payment_once(chain, live_api):
    order_id, address = charge_to_pay(live_api, **SOL, amount="0.5")
    transfer_sol(chain.local, chain.payer, Pubkey.from_string(address), 100_000_000)
    chain.local.produce_block()
    cursor = ChainCursor.objects.get(network="solana", mode="live")
    before = cursor.last_block

    network_scan(adapter=chain.adapter)
    ChainCursor.objects.filter(pk=cursor.pk).update(last_block=before,  # as if it crashed before saving
                                                    last_block_hash=chain.adapter.block(before).hash)
    network_scan(adapter=chain.adapter)
    assert Transfer.objects.filter(order_id=order_id).count() == 1


def test_a_live_entry_on_a_devnet_node_is_refused(local_solana, settings):
    """The stand-in answers getGenesisHash as the mainnet by default; as devnet, live refuses it."""
    from chains.adapters.base import WrongChain
    from testing.solana_local import DEVNET_GENESIS_HASH

    local_solana.genesis_hash = DEVNET_GENESIS_HASH
    settings.FLUXA_CHAINS = {"solana": {"live": local_solana.url, "test": local_solana.url}}
    with pytest.raises(WrongChain):
        network_scan(adapter=adapter_for("solana", "live"))
    adapter_for("solana", "test").check_chain()  # a devnet node is a test-mode node
    assert ChainCursor.objects.get(network="solana", mode="live").last_error.startswith("wrong chain")
