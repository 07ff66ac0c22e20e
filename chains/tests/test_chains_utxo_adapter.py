"""chains.adapters.utxo.UtxoAdapter against a real regtest litecoind (testing/litecoind.py;
`make test` installs litecoind): payments from the node's wallet to watched and unwatched
scripts of every kind, reorgs with invalidateblock/reconsiderblock and generateblock.

The adapter is a litecoin *live* adapter: the watched addresses are the mainnet (ltc1/L/M)
forms of the regtest wallet's addresses, matched by scriptPubKey."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from decimal import Decimal

import base58
import pytest

from chains.adapters.base import BlockRef, ChainUnavailable, Observed, Watch
from chains.adapters.utxo import UtxoAdapter
from chains.encoding import decode_segwit, encode_segwit
from testing.httpserver import QuietHandler, free_port, serve, url_of
from testing.litecoind import regtest_address


@pytest.fixture(scope="module")
def node(litecoind):
    """The session's litecoind (testing/fixtures.py)."""
    return litecoind


def _live_segwit(node, kind="bech32") -> str:
    """A fresh wallet address, in its litecoin mainnet (ltc1) form."""
    decoded = decode_segwit(node.rpc("getnewaddress", "", kind))
    return encode_segwit("ltc", decoded.version, decoded.program)


def _live_base58(regtest: str, version: int) -> str:
    """A regtest base58 address re-encoded with a mainnet version byte (same hash160)."""
    return base58.b58encode_check(bytes([version]) + base58.b58decode_check(regtest)[1:]).decode()


@dataclass
class World:
    adapter: UtxoAdapter
    watched: dict[str, str]  # live address -> scriptPubKey hex
    first: int
    last: int
    expected: set[Observed]

    @property
    def watch(self) -> Watch:
        return Watch(addresses=frozenset(self.watched.values()))


def _tx_outputs(node, txid: str, block_hash: str) -> dict[str, tuple[int, Decimal]]:
    tx = node.rpc("getrawtransaction", txid, True, block_hash)
    return {out["scriptPubKey"]["hex"]: (out["n"], out["value"]) for out in tx["vout"]}


@pytest.fixture(scope="module")
def world(node):
    adapter = UtxoAdapter(network="litecoin", mode="live", rpc_url=node.url)
    legacy = node.rpc("getnewaddress", "", "legacy")  # regtest P2PKH (0x6f) ...
    wrapped = node.rpc("getnewaddress", "", "p2sh-segwit")  # ... and P2SH (0x3a)
    taproot = encode_segwit("ltc", 1, secrets.token_bytes(32))  # nobody's key: only receives
    watched_addresses = {
        "a": _live_segwit(node), "b": _live_segwit(node),
        "legacy": _live_base58(legacy, 0x30), "wrapped": _live_base58(wrapped, 0x32),
        "taproot": taproot,
    }
    watched = {address: adapter.normalize(address) for address in watched_addresses.values()}
    unwatched = node.rpc("getnewaddress", "", "bech32")

    first = node.height() + 1
    # Block 1: two watched outputs in one transaction, amounts a float would round wrongly.
    pair = node.rpc("sendmany", "", {regtest_address(watched_addresses["a"]): "0.29",
                                     regtest_address(watched_addresses["b"]): "1.15"})
    legacy_tx = node.rpc("sendtoaddress", legacy, "0.12345678")
    node.mine(1)
    # Block 2: base58 P2SH, taproot, an unwatched payment; block 3: nothing for us.
    wrapped_tx = node.rpc("sendtoaddress", wrapped, "2")
    taproot_tx = node.rpc("sendtoaddress", regtest_address(taproot), "0.0001")
    node.rpc("sendtoaddress", unwatched, "3")
    node.mine(1)
    node.mine(1)
    last = node.height()

    expected: set[Observed] = set()
    for txid, address, amount in [(pair, "a", 29_000_000), (pair, "b", 115_000_000),
                                  (legacy_tx, "legacy", 12_345_678), (wrapped_tx, "wrapped", 200_000_000),
                                  (taproot_tx, "taproot", 10_000)]:
        tx = node.rpc("gettransaction", txid)
        block_hash = tx["blockhash"]
        header = node.rpc("getblockheader", block_hash)
        number = header["height"]
        script = watched[watched_addresses[address]]
        index, value = _tx_outputs(node, txid, block_hash)[script]
        assert value * 10**8 == amount
        expected.add(Observed(tx_hash=txid, index=index, to_address=script, asset="LTC", amount_base_units=amount,
                              sender="", block_number=number, block_hash=block_hash, block_time=header["time"]))
    yield World(adapter=adapter, watched=watched, first=first, last=last, expected=expected)
    adapter.close()


# -- head and blocks ------------------------------------------------------------------------


def test_head_is_the_nodes_best_block(node, world):
    head = world.adapter.head()
    best = node.rpc("getbestblockhash")
    assert head == BlockRef(number=node.height(), hash=best, timestamp=node.rpc("getblockheader", best)["time"])


def test_block_by_number_and_none_past_the_head(node, world):
    number = world.first
    block = world.adapter.block(number)
    assert block.number == number and block.hash == node.rpc("getblockhash", number)
    assert world.adapter.block(0).hash == node.rpc("getblockhash", 0)
    assert world.adapter.block(node.height() + 1) is None
    with pytest.raises(ValueError):
        world.adapter.block(-1)


# -- scanning -------------------------------------------------------------------------------


def test_scan_finds_every_watched_output_with_exact_amounts(world):
    found = world.adapter.scan(from_block=world.first, to_block=world.last, watch=world.watch)

    assert len(found) == len(world.expected) and set(found) == world.expected
    pair = [o for o in found if o.amount_base_units in (29_000_000, 115_000_000)]
    assert len(pair) == 2 and pair[0].tx_hash == pair[1].tx_hash and pair[0].index != pair[1].index
    assert [o.block_number for o in found] == sorted(o.block_number for o in found)


def test_unwatched_outputs_are_not_reported(world):
    found = world.adapter.scan(from_block=world.first, to_block=world.last, watch=world.watch)
    assert {o.to_address for o in found} <= set(world.watched.values())
    only_a = Watch(addresses=frozenset([sorted(world.watched.values())[0]]))
    assert all(o.to_address in only_a.addresses
               for o in world.adapter.scan(from_block=world.first, to_block=world.last, watch=only_a))


def test_many_watched_addresses_change_nothing(world):
    noise = {"0014" + secrets.token_hex(20) for _ in range(20_000)}
    watch = Watch(addresses=frozenset(noise | set(world.watched.values())))
    assert set(world.adapter.scan(from_block=world.first, to_block=world.last, watch=watch)) == world.expected


def test_empty_range_and_empty_watch(world):
    assert world.adapter.scan(from_block=1, to_block=world.first - 1, watch=world.watch) == []
    assert world.adapter.scan(from_block=world.last, to_block=world.last, watch=world.watch) == []
    assert world.adapter.scan(from_block=world.first, to_block=world.last, watch=Watch(addresses=frozenset())) == []
    with pytest.raises(ValueError):
        world.adapter.scan(from_block=world.last, to_block=world.first, watch=world.watch)


def test_the_same_range_twice_gives_the_same_answer(world):
    once = world.adapter.scan(from_block=world.first, to_block=world.last, watch=world.watch)
    twice = world.adapter.scan(from_block=world.first, to_block=world.last, watch=world.watch)
    assert once == twice


def test_scanning_past_the_head_is_unavailable(node, world):
    head = node.height()
    with pytest.raises(ChainUnavailable):
        world.adapter.scan(from_block=head, to_block=head + 1, watch=world.watch)


def test_a_reorg_drops_and_restores_a_payment(node, world):
    address = _live_segwit(node)
    script = world.adapter.normalize(address)
    watch = Watch(addresses=frozenset([script]))
    txid = node.rpc("sendtoaddress", regtest_address(address), "0.5")
    [paid_hash] = node.mine(1)
    height = node.height()
    [seen] = world.adapter.scan(from_block=height, to_block=height, watch=watch)
    assert (seen.tx_hash, seen.block_hash, seen.amount_base_units) == (txid, paid_hash, 50_000_000)

    node.rpc("invalidateblock", paid_hash)  # the block is gone: the head is one lower
    assert world.adapter.head().number == height - 1
    assert world.adapter.block(height) is None
    node.rpc("reconsiderblock", paid_hash)  # and back
    assert world.adapter.block(height).hash == paid_hash

    node.rpc("invalidateblock", paid_hash)
    # A longer chain without the payment (generateblock mines exactly the transactions given).
    replacement = [node.rpc("generateblock", node.mining_address, [])["hash"] for _ in range(2)]
    node.rpc("reconsiderblock", paid_hash)  # the old branch is shorter: it stays out
    assert world.adapter.block(height).hash == replacement[0]
    assert world.adapter.scan(from_block=height, to_block=height + 1, watch=watch) == []

    node.mine(1)  # the payment was back in the mempool: the new chain has it again
    [again] = world.adapter.scan(from_block=height, to_block=node.height(), watch=watch)
    assert again.tx_hash == txid and again.block_number == height + 2 and again.block_hash != paid_hash


# -- addresses ------------------------------------------------------------------------------

# BIP-173/BIP-350 test vectors, and addresses whose hash160 is published widely (the genesis
# coinbase's 1A1zP1…; BIP-13's 3J98t1…), with their scriptPubKeys.
P2WPKH = "0014751e76e8199196d454941c45d1b3a323f1433bd6"
P2WSH = "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262"
P2TR = "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"


def _segwit(hrp: str, script: str) -> str:
    version = 0 if script[:2] == "00" else int(script[:2], 16) - 0x50
    return encode_segwit(hrp, version, bytes.fromhex(script[4:]))


@pytest.mark.parametrize("network, mode, address, script", [
    ("bitcoin", "live", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", P2WPKH),
    ("bitcoin", "live", "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", P2WPKH),
    ("bitcoin", "test", "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", P2WSH),
    ("bitcoin", "live", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", P2TR),
    ("bitcoin", "live", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac"),
    ("bitcoin", "live", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "a914b472a266d0bd89c13706a4132ccfb16f7c3b9fcb87"),
    ("bitcoin", "test", "mkpZhYtJu2r87Js3pDiWJDmPte2NRZ8bJV", "76a9143a2d4145a4f098523b3e8127f1da87cfc55b8e7988ac"),
    ("litecoin", "live", _segwit("ltc", P2WPKH), P2WPKH),
    ("litecoin", "test", _segwit("tltc", P2WSH), P2WSH),
    ("litecoin", "live", _segwit("ltc", P2TR), P2TR),
    ("litecoin", "live", "LaMT348PWRnrqeeWArpwQPbuanpXDZGEUz", "76a914a5f4d12ce3685781b227c1f39548ddef429e978388ac"),
    ("litecoin", "live", "MQMcJhpWHYVeQArcZR3sBgyPZxxRtnH441", "a914b48297bff5dadecc5f36145cec6a5f20d57c8f9b87"),
    ("litecoin", "test", base58.b58encode_check(bytes([0x3A]) + bytes(range(1, 21))).decode(),
     "a914" + bytes(range(1, 21)).hex() + "87"),
])
def test_normalize_gives_the_scriptpubkey(network, mode, address, script):
    assert UtxoAdapter(network=network, mode=mode, rpc_url="http://127.0.0.1:1").normalize(address) == script


@pytest.mark.parametrize("network, mode, address", [
    ("litecoin", "live", "tltc1q6rz28mcfaxtmd6v789l9rrlrusdprr9pesrjxk"),  # the other mode
    ("litecoin", "test", "ltc1qjmxnz78nmc8nq77wuxh25n2es7rzm5c2rkk4wh"),
    ("litecoin", "live", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),  # the other network
    ("bitcoin", "live", "LaMT348PWRnrqeeWArpwQPbuanpXDZGEUz"),
    ("litecoin", "live", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"),  # Litecoin's legacy 3… P2SH: refused
    ("litecoin", "live", "rltc1q3ecm3zkq5489gg5ac9xvchl2rcfvwxrr7fwknf"),  # regtest
    ("litecoin", "live", "ltc1qjmxnz78nmc8nq77wuxh25n2es7rzm5c2rkk4wj"),  # checksum typo
    ("bitcoin", "live", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"),
    ("bitcoin", "live", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"),
    ("bitcoin", "live", "bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du"),  # v2 with a bech32 (not m) checksum
    ("bitcoin", "live", ""), ("bitcoin", "live", " 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
    ("bitcoin", "live", "junk"), ("bitcoin", "live", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    ("bitcoin", "live", "0x" + "ab" * 20), ("bitcoin", "live", "bc1qüü"),
])
def test_normalize_refuses_other_addresses_and_junk(network, mode, address):
    with pytest.raises(ValueError):
        UtxoAdapter(network=network, mode=mode, rpc_url="http://127.0.0.1:1").normalize(address)


def test_normalize_matches_the_nodes_scripts(node, world):
    for kind, version in [("legacy", 0x30), ("p2sh-segwit", 0x32)]:
        regtest = node.rpc("getnewaddress", "", kind)
        assert world.adapter.normalize(_live_base58(regtest, version)) == \
            node.rpc("getaddressinfo", regtest)["scriptPubKey"]
    regtest = node.rpc("getnewaddress", "", "bech32")
    decoded = decode_segwit(regtest)
    assert world.adapter.normalize(encode_segwit("ltc", 0, decoded.program)) == \
        node.rpc("getaddressinfo", regtest)["scriptPubKey"]


def test_only_utxo_networks_and_known_modes():
    with pytest.raises(ValueError):
        UtxoAdapter(network="ethereum", mode="live", rpc_url="http://127.0.0.1:1")
    with pytest.raises(ValueError):
        UtxoAdapter(network="bitcoin", mode="regtest", rpc_url="http://127.0.0.1:1")


def test_the_registry_builds_a_utxo_adapter(settings, node):
    from chains.adapters.registry import adapter_for

    settings.FLUXA_CHAINS = {"litecoin": {"live": node.url}, "bitcoin": {"test": "http://u:p@127.0.0.1:1"}}
    adapter = adapter_for("litecoin", "live")
    assert isinstance(adapter, UtxoAdapter) and adapter.head().number == node.height()
    adapter.close()
    assert isinstance(adapter_for("bitcoin", "test"), UtxoAdapter) and adapter_for("bitcoin", "live") is None


# -- a node that is not there, or answers nonsense -------------------------------------------


def _all_calls(adapter):
    return [adapter.head, lambda: adapter.block(1),
            lambda: adapter.scan(from_block=1, to_block=1, watch=Watch(addresses=frozenset({P2WPKH})))]


def test_an_unreachable_node_is_unavailable():
    adapter = UtxoAdapter(network="litecoin", mode="live", rpc_url=f"http://u:secret@127.0.0.1:{free_port()}",
                          timeout=2)
    for call in _all_calls(adapter):
        with pytest.raises(ChainUnavailable) as caught:
            call()
        assert "secret" not in str(caught.value)
    assert "secret" not in repr(adapter)


def test_wrong_credentials_are_unavailable(node):
    adapter = UtxoAdapter(network="litecoin", mode="live", rpc_url=node.url.replace(node.password, "wrong"))
    for call in _all_calls(adapter):
        with pytest.raises(ChainUnavailable, match="HTTP 401"):
            call()


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"result": {"height": "x"}, "error": null}',
                                  b'{"result": null, "error": {"code": -1, "message": "boom"}}',
                                  b'{"result": "nothex", "error": null}'])
def test_nonsense_answers_are_unavailable(body):
    class Handler(QuietHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            self.reply(200, body)

    with serve(Handler, name="nonsense-node") as server:
        adapter = UtxoAdapter(network="bitcoin", mode="live", rpc_url=url_of(server))
        for call in _all_calls(adapter):
            with pytest.raises(ChainUnavailable):
                call()


def test_amounts_are_read_without_floats():
    adapter = UtxoAdapter(network="bitcoin", mode="live", rpc_url="http://127.0.0.1:1")
    assert adapter._base_units(json.loads("0.29", parse_float=Decimal)) == 29_000_000  # float: 28999999
    assert adapter._base_units(Decimal("20999999.97690000")) == 2_099_999_997_690_000
    for bad in (Decimal("0.000000001"), Decimal("-1"), 0.5, "1", True):
        with pytest.raises(ValueError):
            adapter._base_units(bad)
