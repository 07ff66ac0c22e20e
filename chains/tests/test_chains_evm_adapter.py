"""chains.adapters.evm.EvmAdapter against a real anvil node (testing/anvil.py; `make test`
installs anvil): the committed 6-decimal test stablecoin deployed, minted and transferred,
ether sent, to watched and unwatched addresses."""

from __future__ import annotations

import json
import secrets
import threading
import urllib.request
from dataclasses import dataclass, field

import pytest
from eth_account import Account
from web3 import Web3

from chains.adapters import evm
from chains.adapters.base import BlockRef, ChainUnavailable, Observed, Watch
from chains.adapters.evm import NATIVE_INDEX, EvmAdapter
from testing.anvil import TEST_TOKEN_ARTIFACT
from testing.httpserver import QuietHandler, closed_url, serve, start_server, stop_server, url_of

ARTIFACT = json.loads(TEST_TOKEN_ARTIFACT.read_text())
GAS_PRICE = {"maxFeePerGas": 2 * 10**10, "maxPriorityFeePerGas": 10**9}


@dataclass
class World:
    """What the module fixture put on the chain, and what a scan must find."""

    w3: Web3
    adapter: EvmAdapter
    token: str  # watched contract, normal form
    other_token: str  # a second TUSD contract nobody watches
    watched: frozenset[str]
    unwatched: str
    first: int  # first block of the transfers
    last: int  # last block of the transfers
    expected: list[Observed] = field(default_factory=list)

    @property
    def watch(self) -> Watch:
        return Watch(addresses=self.watched, tokens={self.token: "TUSD"})


class Sender:
    """Signs and sends from one dev account, keeping its own nonce (automine may be off)."""

    def __init__(self, w3: Web3, key: str):
        self.w3, self.account = w3, Account.from_key(key)
        self.nonce = w3.eth.get_transaction_count(self.account.address, "pending")

    def send(self, *, to=None, value=0, call=None, gas=200_000) -> str:
        tx = {"from": self.account.address, "nonce": self.nonce, "chainId": self.w3.eth.chain_id, "gas": gas,
              **GAS_PRICE}
        if call is not None:
            tx = call.build_transaction(tx)
        else:
            tx = {**tx, "to": Web3.to_checksum_address(to), "value": value, "gas": 21_000 if gas is None else gas}
        self.nonce += 1
        return "0x" + self.w3.eth.send_raw_transaction(self.account.sign_transaction(tx).raw_transaction).hex()

    def deploy(self) -> str:
        contract = self.w3.eth.contract(abi=ARTIFACT["abi"], bytecode=ARTIFACT["bytecode"])
        receipt = self.w3.eth.wait_for_transaction_receipt(self.send(call=contract.constructor(), gas=2_000_000))
        assert receipt["status"] == 1
        return receipt["contractAddress"].lower()


def _token(w3: Web3, address: str):
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=ARTIFACT["abi"])


def _new_address() -> str:
    return Account.create().address.lower()


def _random_address() -> str:
    """A random address in normal form (no key behind it: quicker than _new_address)."""
    return "0x" + secrets.token_hex(20)


@pytest.fixture(scope="module")
def world(anvil) -> World:
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    payer = Sender(w3, anvil.private_keys[0])
    other = Sender(w3, anvil.private_keys[1])
    token, other_token = payer.deploy(), payer.deploy()
    for address in (token, other_token):
        w3.eth.wait_for_transaction_receipt(payer.send(call=_token(w3, address).functions.mint(payer.account.address, 10**12)))
    w3.eth.wait_for_transaction_receipt(other.send(call=_token(w3, token).functions.mint(other.account.address, 10**9)))
    a, b, c, unwatched = (_new_address() for _ in range(4))
    tusd, other_tusd = _token(w3, token).functions, _token(w3, other_token).functions
    cs = Web3.to_checksum_address
    first = w3.eth.block_number + 1

    # Block `first`: several transactions in one block, so log indexes run past 0.
    anvil.rpc("evm_setAutomine", [False])
    sent = [
        ("TUSD", payer.send(call=tusd.transfer(cs(a), 1_500_000)), a, 1_500_000),
        (None, payer.send(call=tusd.transfer(cs(unwatched), 2_000_000)), unwatched, 0),
        ("ETH", payer.send(to=b, value=10**17), b, 10**17),
        (None, payer.send(call=other_tusd.transfer(cs(a), 7_000_000)), a, 0),  # unwatched contract
        ("TUSD", other.send(call=tusd.transfer(cs(c), 250)), c, 250),
        (None, other.send(to=unwatched, value=3 * 10**16), unwatched, 0),
    ]
    anvil.mine()
    anvil.rpc("evm_setAutomine", [True])
    # Blocks after it: one transaction each.
    sent += [
        ("ETH", payer.send(to=a, value=12345), a, 12345),
        ("TUSD", payer.send(call=tusd.transfer(cs(b), 42_000_000)), b, 42_000_000),
        # ether to a watched contract that refuses it: included, reverted, no transfer
        (None, payer.send(to=token, value=10**15, gas=100_000), token, 0),
        # a transferFrom (approve first) pays a watched address too
        (None, payer.send(call=tusd.approve(other.account.address, 10**6)), None, 0),
        ("TUSD", other.send(call=tusd.transferFrom(payer.account.address, cs(c), 999_999)), c, 999_999),
    ]
    expected = []
    for asset, tx_hash, to, amount in sent:
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash)  # automine may still be at it
        if to == token:
            assert receipt["status"] == 0, "the refused ether transfer must revert"
            continue
        assert receipt["status"] == 1
        if asset is None:
            continue
        tx = w3.eth.get_transaction(tx_hash)
        if asset == "TUSD":
            (log,) = receipt["logs"]
            index, sender = log["logIndex"], ("0x" + log["topics"][1].hex()[-40:])
        else:
            index, sender = NATIVE_INDEX, tx["from"].lower()
        expected.append(((receipt["blockNumber"], receipt["transactionIndex"]), Observed(
            tx_hash=tx_hash, index=index, to_address=to, asset=asset, amount_base_units=amount, sender=sender,
            block_number=receipt["blockNumber"], block_hash="0x" + receipt["blockHash"].hex(),
            block_time=w3.eth.get_block(receipt["blockNumber"])["timestamp"],
        )))
    expected.sort(key=lambda pair: pair[0])
    adapter = EvmAdapter(network="ethereum", mode="test", rpc_url=anvil.url)
    return World(w3=w3, adapter=adapter, token=token, other_token=other_token,
                 watched=frozenset({a, b, c, token}), unwatched=unwatched, first=first,
                 last=w3.eth.block_number, expected=[observed for _, observed in expected])


class RpcCounter:
    """A JSON-RPC proxy in front of the node that counts the methods it forwards and the HTTP
    requests they came in (`posts`). `refuse_batches`: a batch is answered with one error
    object, as nodes without batch support do. `fail_method`: that method's answers inside a
    batch become JSON-RPC errors (a rate limit hit halfway through a batch)."""

    def __init__(self, upstream: str):
        self.calls: list[str] = []
        self.posts = 0
        self.refuse_batches = False
        self.fail_method: str | None = None
        counter = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = json.loads(body)
                counter.posts += 1
                if isinstance(request, list) and counter.refuse_batches:
                    self.reply(200, json.dumps({"jsonrpc": "2.0", "id": None, "error": {
                        "code": -32600, "message": "batch requests are not supported"}}).encode())
                    return
                for item in request if isinstance(request, list) else [request]:
                    counter.calls.append(item["method"])
                forward = urllib.request.Request(upstream, data=body, headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(forward, timeout=30) as answer:
                    reply = answer.read()
                if isinstance(request, list) and counter.fail_method:
                    methods = {item["id"]: item["method"] for item in request}
                    items = json.loads(reply)
                    for item in items:
                        if methods[item["id"]] == counter.fail_method:
                            item.pop("result", None)
                            item["error"] = {"code": 429, "message": "rate limited"}
                    reply = json.dumps(items).encode()
                self.reply(200, reply)

        self.server = start_server(Handler, name="rpc-counter")
        self.url = url_of(self.server)

    def count(self, method: str) -> int:
        return self.calls.count(method)

    def close(self) -> None:
        stop_server(self.server)


@pytest.fixture
def counted(anvil):
    """(an adapter whose calls go through a counting proxy, the counter)"""
    counter = RpcCounter(anvil.url)
    yield EvmAdapter(network="ethereum", mode="test", rpc_url=counter.url), counter
    counter.close()


# -- the test token --------------------------------------------------------------------------

def test_the_committed_artifact_is_a_6_decimal_erc20(world):
    token = _token(world.w3, world.token).functions
    assert (token.name().call(), token.symbol().call(), token.decimals().call()) == ("Test USD", "TUSD", 6)
    assert ARTIFACT["compiler"].startswith("solc-js 0.8.")
    assert token.balanceOf(Web3.to_checksum_address(world.unwatched)).call() == 2_000_000


# -- scan ------------------------------------------------------------------------------------

def test_scan_finds_exactly_the_transfers_to_watched_addresses(world):
    found = world.adapter.scan(from_block=world.first, to_block=world.last, watch=world.watch)

    assert found == world.expected
    assert len(found) == 6
    assert {o.asset for o in found} == {"TUSD", "ETH"}
    assert world.unwatched not in {o.to_address for o in found}
    first_block = [o for o in found if o.block_number == world.first]
    assert sorted(o.index for o in first_block if o.asset == "TUSD") == [0, 3]  # block-wide log indexes
    for observed in found:
        assert observed.block_hash == world.adapter.block(observed.block_number).hash
        assert observed.tx_hash == observed.tx_hash.lower() and len(observed.tx_hash) == 66
        assert isinstance(observed.amount_base_units, int)


def test_scan_of_a_part_of_the_range_finds_that_part(world):
    found = world.adapter.scan(from_block=world.first + 1, to_block=world.last, watch=world.watch)
    assert found == [o for o in world.expected if o.block_number > world.first]
    assert found and all(o.block_number > world.first for o in found)


def test_a_range_without_transfers_is_empty(world, anvil):
    assert world.adapter.scan(from_block=0, to_block=world.first - 1, watch=world.watch) == []
    before = anvil.block_number()
    anvil.mine(5)
    assert world.adapter.scan(from_block=before + 1, to_block=before + 5, watch=world.watch) == []


def test_nothing_watched_finds_nothing(world):
    assert world.adapter.scan(from_block=world.first, to_block=world.last,
                              watch=Watch(addresses=frozenset(), tokens={world.token: "TUSD"})) == []
    # no token contracts: native transfers only
    found = world.adapter.scan(from_block=world.first, to_block=world.last,
                               watch=Watch(addresses=world.watched))
    assert found == [o for o in world.expected if o.asset == "ETH"]


def test_scanning_the_same_range_twice_gives_the_same_answer(world):
    once = world.adapter.scan(from_block=world.first, to_block=world.last, watch=world.watch)
    again = world.adapter.scan(from_block=world.first, to_block=world.last, watch=world.watch)
    assert once == again == world.expected


def test_a_watched_unknown_token_contract_is_not_an_error(world):
    tokens = {world.token: "TUSD", world.other_token: "OTHER", _new_address(): "NOWHERE"}
    found = world.adapter.scan(from_block=world.first, to_block=world.last,
                               watch=Watch(addresses=world.watched, tokens=tokens))
    other = [o for o in found if o.asset == "OTHER"]
    assert [o.amount_base_units for o in other] == [7_000_000] and other[0].to_address in world.watched
    assert [o for o in found if o.asset != "OTHER"] == world.expected


def test_cost_does_not_grow_with_the_watched_addresses(world, counted):
    adapter, counter = counted
    many = frozenset({*world.watched, *(_random_address() for _ in range(10_000))})
    assert len(many) == 10_000 + len(world.watched)

    few_found = adapter.scan(from_block=world.first, to_block=world.last, watch=world.watch)
    few_calls = list(counter.calls)
    counter.calls.clear()
    many_found = adapter.scan(from_block=world.first, to_block=world.last,
                              watch=Watch(addresses=many, tokens={world.token: "TUSD"}))

    assert many_found == few_found == world.expected
    assert counter.calls == few_calls
    assert counter.count("eth_getLogs") == 1  # one call for the whole range and every contract
    assert counter.count("eth_getBlockByNumber") == world.last - world.first + 1
    # receipts only for native matches (2 paid ones + the reverted one), never per address
    assert counter.count("eth_getTransactionReceipt") == 3

    strangers = frozenset(_random_address() for _ in range(10_000))
    assert world.adapter.scan(from_block=world.first, to_block=world.last,
                              watch=Watch(addresses=strangers, tokens={world.token: "TUSD"})) == []


def test_blocks_and_receipts_are_read_in_json_rpc_batches(world, counted, monkeypatch):
    adapter, counter = counted
    blocks = world.last - world.first + 1
    assert blocks > 2
    found = adapter.scan(from_block=world.first, to_block=world.last, watch=world.watch)
    # one getLogs, then one batch of blocks and one of their receipts per RPC_BATCH blocks
    assert found == world.expected and counter.posts == 1 + 2 * -(-blocks // evm.RPC_BATCH)

    monkeypatch.setattr(evm, "RPC_BATCH", 2)
    counter.posts = 0
    assert adapter.scan(from_block=world.first, to_block=world.last, watch=world.watch) == world.expected
    assert counter.posts > 1 + -(-blocks // 2)  # smaller batches, more requests, the same answer


def test_a_node_without_batches_is_asked_one_call_at_a_time(world, counted):
    adapter, counter = counted
    counter.refuse_batches = True
    assert adapter.scan(from_block=world.first, to_block=world.last, watch=world.watch) == world.expected
    assert counter.count("eth_getBlockByNumber") == world.last - world.first + 1


@pytest.mark.parametrize("method", ["eth_getBlockByNumber", "eth_getTransactionReceipt"])
def test_an_error_inside_a_batch_makes_the_scan_unavailable(world, counted, method):
    adapter, counter = counted
    counter.fail_method = method
    with pytest.raises(ChainUnavailable, match="rate limited"):
        adapter.scan(from_block=world.first, to_block=world.last, watch=world.watch)


def test_long_ranges_are_read_in_batches_of_logs(world, counted, monkeypatch):
    adapter, counter = counted
    monkeypatch.setattr(evm, "LOGS_BATCH_BLOCKS", 2)
    found = adapter.scan(from_block=world.first, to_block=world.last, watch=world.watch)
    assert found == world.expected
    assert counter.count("eth_getLogs") == -(-(world.last - world.first + 1) // 2)


def test_a_bad_range_is_refused(world):
    with pytest.raises(ValueError):
        world.adapter.scan(from_block=5, to_block=4, watch=world.watch)
    with pytest.raises(ValueError):
        world.adapter.scan(from_block=-1, to_block=4, watch=world.watch)


def test_a_range_past_the_head_is_unavailable(world, anvil):
    head = anvil.block_number()
    with pytest.raises(ChainUnavailable):
        world.adapter.scan(from_block=head, to_block=head + 1, watch=world.watch)


# -- head, block, reorgs ---------------------------------------------------------------------

def test_head_and_block(world, anvil):
    head = world.adapter.head()
    latest = anvil.rpc("eth_getBlockByNumber", ["latest", False])
    assert head == BlockRef(number=int(latest["number"], 16), hash=latest["hash"],
                            timestamp=int(latest["timestamp"], 16))
    assert world.adapter.block(head.number) == head
    assert world.adapter.block(0).number == 0
    assert world.adapter.block(head.number + 1) is None
    assert world.adapter.block(10**9) is None
    with pytest.raises(ValueError):
        world.adapter.block(-1)


def test_reverted_blocks_disappear_and_come_back_different(world, anvil):
    payer = Sender(world.w3, anvil.private_keys[2])
    target = sorted(world.watched - {world.token})[0]
    snapshot = anvil.snapshot()
    # (automine mines right after the send returns: wait for the receipt before reading blocks)
    world.w3.eth.wait_for_transaction_receipt(payer.send(to=target, value=777))
    paid = world.adapter.head()
    (observed,) = world.adapter.scan(from_block=paid.number, to_block=paid.number, watch=world.watch)
    assert (observed.amount_base_units, observed.block_hash) == (777, paid.hash)

    anvil.revert(snapshot)  # the payment's block is gone...
    assert world.adapter.block(paid.number) is None
    assert world.adapter.head().number == paid.number - 1

    other = Sender(world.w3, anvil.private_keys[2]).send(to=world.unwatched, value=1)  # ...and another takes its height
    world.w3.eth.wait_for_transaction_receipt(other)
    replaced = world.adapter.block(paid.number)
    assert replaced is not None and replaced.hash != paid.hash
    assert world.adapter.scan(from_block=paid.number, to_block=paid.number, watch=world.watch) == []
    # the blocks before the snapshot are untouched
    assert world.adapter.scan(from_block=world.first, to_block=world.last, watch=world.watch) == world.expected


# -- normalize -------------------------------------------------------------------------------

def test_normalize(world):
    checksummed = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    normalize = world.adapter.normalize
    assert normalize(checksummed) == checksummed.lower()
    assert normalize(checksummed.lower()) == checksummed.lower()
    assert normalize("0x" + checksummed[2:].upper()) == checksummed.lower()
    bad_checksum = "0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    junk = [bad_checksum, "", "0x", "f39fd6e51aad88f6f4ce6ab8827279cfffb92266", "0x" + "g" * 40,
            checksummed[:-1], checksummed + "0", " " + checksummed, checksummed + "\n", "0X" + checksummed[2:],
            None, 123, bytes.fromhex(checksummed[2:]), "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"]
    for value in junk:
        with pytest.raises(ValueError):
            normalize(value)


def test_only_evm_networks_and_known_modes():
    with pytest.raises(ValueError):
        EvmAdapter(network="bitcoin", mode="test", rpc_url="http://127.0.0.1:1")
    with pytest.raises(ValueError):
        EvmAdapter(network="ethereum", mode="staging", rpc_url="http://127.0.0.1:1")
    adapter = EvmAdapter(network="polygon", mode="live", rpc_url="http://127.0.0.1:1")
    assert (adapter.network, adapter.mode, adapter.native_asset) == ("polygon", "live", "POL")


# -- a node that is not there or answers badly ----------------------------------------------

def _calls(adapter: EvmAdapter):
    watch = Watch(addresses=frozenset({_new_address()}), tokens={_new_address(): "TUSD"})
    return [adapter.head, lambda: adapter.block(1), lambda: adapter.scan(from_block=1, to_block=2, watch=watch)]


def test_an_unreachable_node_is_unavailable():
    adapter = EvmAdapter(network="ethereum", mode="test", rpc_url=closed_url(), timeout=2)
    for call in _calls(adapter):
        with pytest.raises(ChainUnavailable):
            call()


@pytest.fixture
def bad_node():
    """A local HTTP server whose answer the test sets: a JSON-RPC error, nonsense, or none."""
    behaviour = {"mode": "error"}
    release = threading.Event()

    class Handler(QuietHandler):
        def do_POST(self):
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if behaviour["mode"] == "silent":
                release.wait(5)
                return
            if behaviour["mode"] == "error":
                body = json.dumps({"jsonrpc": "2.0", "id": request["id"],
                                   "error": {"code": -32005, "message": "query returned more than 10000 results"}})
            elif behaviour["mode"] == "http500":
                self.send_response(500)
                self.end_headers()
                return
            else:
                body = "<html>nonsense</html>"
            self.reply(200, body.encode())

    with serve(Handler, name="bad-node") as server:
        yield behaviour, url_of(server)
        release.set()


@pytest.mark.parametrize("mode", ["error", "nonsense", "http500", "silent"])
def test_a_node_that_answers_badly_is_unavailable(bad_node, mode):
    behaviour, url = bad_node
    behaviour["mode"] = mode
    adapter = EvmAdapter(network="ethereum", mode="test", rpc_url=url, timeout=0.5)
    for call in _calls(adapter):
        with pytest.raises(ChainUnavailable):
            call()

