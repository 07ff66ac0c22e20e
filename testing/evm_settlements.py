"""What the EVM settlement tests share: live-mode orders paid on the session's anvil for real,
scanned, and settled by the beat jobs, and reads of the chain itself.

    from testing.evm_settlements import evm  # noqa: F401  (the fixture)

    def test_x(evm, live_api):
        order_id, deposit = evm.paid_order(live_api, eth="0.05")
        evm.settle_until(lambda: ...)

The fixture wires the node in as ethereum's live RPC (FLUXA_CHAINS), a fresh operator fee
address (FLUXA_PLATFORM_ADDRESSES), a reorg margin of 0, 2 confirmations per outgoing
transfer, 1 per incoming payment, deploys a fresh test token as the live usdt_erc20 contract
and funds the fee payer with 10 ETH.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

import pytest
from eth_account import Account
from web3 import Web3

from chains.adapters.evm import EvmAdapter
from charges.models import Channel
from charges.watching import network_scan
from merchants.services import payout_address_set
from refunds.tasks import advance_refunds
from settlements import keys
from settlements.tasks import advance_outbounds, plan_settlements
from testing.anvil import DEV_PRIVATE_KEYS, TEST_TOKEN_ARTIFACT, Anvil
from testing.client import charge_to_pay, order_state
from wallets.services import wallet_root_ensure

ARTIFACT = json.loads(TEST_TOKEN_ARTIFACT.read_text())
# anvil's second dev account (public test mnemonic): test money only; the chain tests use the first.
PAYER = Account.from_key(DEV_PRIVATE_KEYS[1])
PAYMENT_CONFIRMATIONS = 1
OUTBOUND_CONFIRMATIONS = 2
WEI = 10**18


@dataclass
class EvmChain:
    anvil: Anvil
    w3: Web3
    token: Any
    adapter: EvmAdapter
    operator: str   # the operator's platform (fee) address on ethereum
    fee_payer: str

    # -- the chain -----------------------------------------------------------------------------

    def fresh_head(self) -> None:
        """A head block stamped now, seen by the scanner: a live charge is refused on a node
        whose newest block is minutes old, and anvil, reverted to the session's snapshot by
        earlier modules, stamps new blocks from that snapshot's time."""
        latest = int(self.w3.eth.get_block("latest")["timestamp"])
        now = int(time.time())
        if now > latest:
            self.anvil.rpc("evm_setNextBlockTimestamp", [now])
        self.mine(1)
        self.scan()

    def mine(self, blocks: int = 1) -> None:
        self.anvil.rpc("anvil_mine", [hex(blocks)])

    def balance(self, address: str) -> int:
        return self.w3.eth.get_balance(Web3.to_checksum_address(address))

    def token_balance(self, address: str) -> int:
        return self.token.functions.balanceOf(Web3.to_checksum_address(address)).call()

    def nonce(self, address: str) -> int:
        return self.w3.eth.get_transaction_count(Web3.to_checksum_address(address))

    def send_eth(self, to: str, wei: int) -> None:
        self._send({"to": Web3.to_checksum_address(to), "value": wei, "gas": 21_000})

    def send_tokens(self, to: str, units: int) -> None:
        self._send(self.token.functions.transfer(Web3.to_checksum_address(to), units))

    def deploy(self, init_code: str):
        """Deploy raw init code; returns the receipt."""
        return self._send({"data": init_code, "gas": 200_000})

    def _send(self, tx_or_call):
        base = {"from": PAYER.address, "nonce": self.w3.eth.get_transaction_count(PAYER.address, "pending"),
                "chainId": self.w3.eth.chain_id, "maxFeePerGas": 50 * 10**9, "maxPriorityFeePerGas": 10**9}
        tx = tx_or_call.build_transaction({**base, "gas": 200_000}) if hasattr(tx_or_call, "build_transaction") \
            else {**base, **tx_or_call}
        txid = self.w3.eth.send_raw_transaction(PAYER.sign_transaction(tx).raw_transaction)
        receipt = self.w3.eth.wait_for_transaction_receipt(txid, timeout=10)
        assert receipt.status == 1
        return receipt

    # -- fluxa ---------------------------------------------------------------------------------

    def scan(self) -> None:
        network_scan(adapter=self.adapter)

    def paid_order(self, api, *, eth: str | None = None, usdt: str | None = None) -> tuple[str, str]:
        """A live order charged through the signed API, paid in full on the chain, confirmed and
        scanned: (order id, deposit address)."""
        self.fresh_head()
        if eth is not None:
            order_id, address = charge_to_pay(api, channel="eth", currency="ETH", amount=eth)
            self.send_eth(address, int(Decimal(eth) * WEI))
        else:
            order_id, address = charge_to_pay(api, channel="usdt_erc20", currency="USDT", amount=usdt)
            self.send_tokens(address, int(Decimal(usdt) * 10**6))
        self.mine(PAYMENT_CONFIRMATIONS)
        self.scan()
        assert order_state(order_id)[0] == "paid"
        return order_id, address

    def canceled_order(self, api, *, eth: str | None = None, usdt: str | None = None, due: str = "25") -> tuple[str, str]:
        """A live order charged for `due` through the signed API, paid in part on the chain
        (`eth` or `usdt`), confirmed, scanned, then canceled by the merchant: (order id, deposit
        address). Its funds are stuck on the deposit address."""
        self.fresh_head()
        if eth is not None:
            order_id, address = charge_to_pay(api, channel="eth", currency="ETH", amount=due)
            self.send_eth(address, int(Decimal(eth) * WEI))
        else:
            order_id, address = charge_to_pay(api, channel="usdt_erc20", currency="USDT", amount=due)
            self.send_tokens(address, int(Decimal(usdt) * 10**6))
        self.mine(PAYMENT_CONFIRMATIONS)
        self.scan()
        assert order_state(order_id)[0] == "pending"
        response = api.patch(f"/api/v1/orders/{order_id}", {"status": "canceled"})
        assert response.status_code == 200, response.body
        return order_id, address

    def refund_until(self, done: Callable[[], bool], *, rounds: int = 12) -> int:
        """Run the refunds' beat job, mining a block after each round, until `done()`."""
        for round_ in range(rounds):
            advance_refunds()
            if done():
                return round_
            self.mine(1)
        raise AssertionError(f"not done after {rounds} rounds")

    def settle_until(self, done: Callable[[], bool], *, rounds: int = 12) -> int:
        """Run the beat jobs (plan, advance), mining a block after each round, until `done()`."""
        for round_ in range(rounds):
            plan_settlements()
            advance_outbounds()
            if done():
                return round_
            self.mine(1)
        raise AssertionError(f"not done after {rounds} rounds")


def payout_address(merchant, address: str) -> None:
    payout_address_set(merchant=merchant, mode="live", network="ethereum", address=address)


def new_address() -> str:
    return Account.create().address.lower()


@pytest.fixture
def evm(anvil, settings, db):
    """The session's anvil as ethereum's live node, a fresh token as the live usdt_erc20
    contract, a fresh operator address, the fee payer funded with 10 ETH."""
    wallet_root_ensure()  # from FLUXA_WALLET_MNEMONIC (the root conftest's test vector)
    # A fresh head: after a module's revert the newest block may be minutes old, and a live node
    # that far behind takes no charges.
    anvil.mine(1)
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    settings.FLUXA_CHAINS = {"ethereum": {"live": anvil.url}}
    operator = new_address()
    settings.FLUXA_PLATFORM_ADDRESSES = {"ethereum": operator}
    settings.FLUXA_SETTLEMENT_REORG_MARGIN = {"ethereum": 0}
    settings.FLUXA_SETTLEMENT_CONFIRMATIONS = {"ethereum": OUTBOUND_CONFIRMATIONS}
    settings.FLUXA_SETTLEMENT_COST_LIMITS = {}
    chain = EvmChain(anvil=anvil, w3=w3, token=None, adapter=EvmAdapter(network="ethereum", mode="live",
                                                                          rpc_url=anvil.url),
                     operator=operator, fee_payer=keys.fee_payer_address(network="ethereum", mode="live"))
    contract = w3.eth.contract(abi=ARTIFACT["abi"], bytecode=ARTIFACT["bytecode"])
    base = {"from": PAYER.address, "nonce": w3.eth.get_transaction_count(PAYER.address, "pending"),
            "chainId": w3.eth.chain_id, "gas": 3_000_000, "maxFeePerGas": 50 * 10**9, "maxPriorityFeePerGas": 10**9}
    txid = w3.eth.send_raw_transaction(PAYER.sign_transaction(contract.constructor().build_transaction(base))
                                       .raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(txid)
    chain.token = w3.eth.contract(address=receipt.contractAddress, abi=ARTIFACT["abi"])
    chain._send(chain.token.functions.mint(PAYER.address, 10**15))
    Channel.objects.filter(code="usdt_erc20").update(token_contract=receipt.contractAddress,
                                                     required_confirmations=PAYMENT_CONFIRMATIONS)
    Channel.objects.filter(code="eth").update(required_confirmations=PAYMENT_CONFIRMATIONS)
    if chain.balance(chain.fee_payer) < 5 * WEI:
        chain.send_eth(chain.fee_payer, 10 * WEI)
    network_scan(adapter=chain.adapter, start_back=0)  # the cursor starts at today's head
    return chain
