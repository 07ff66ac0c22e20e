"""chains.adapters.xrpl.XrplAdapter against testing/xrpl_fake.py: no rippled can run here,
so a local HTTP server answers rippled's JSON-RPC shapes over ledgers holding Payments that
these tests build and sign with xrpl-py (the fake checks the signatures)."""

from __future__ import annotations

import pytest
from xrpl.core.keypairs import generate_seed
from xrpl.models.amounts import IssuedCurrencyAmount
from xrpl.models.transactions import Payment, PaymentFlag
from xrpl.transaction import sign
from xrpl.wallet import Wallet

from chains.adapters import xrpl as xrpl_module
from chains.adapters.base import ChainUnavailable, Observed, Watch
from chains.adapters.xrpl import XrplAdapter
from testing.httpserver import closed_url
from testing.xrpl_fake import RIPPLE_EPOCH, XrplFakeError

# Test-only keys, derived from fixed seeds: never funded on any real ledger.
PAYER, DEPOSIT, OTHER = (Wallet.from_seed(generate_seed(entropy=f"{n:032x}")) for n in (1, 2, 3))


@pytest.fixture
def node(xrpl_fake):
    """The session's rippled stand-in on a fresh history (testing/fixtures.py)."""
    return xrpl_fake


@pytest.fixture
def adapter(node):
    adapter = XrplAdapter(mode="live", rpc_url=node.url)
    yield adapter
    adapter.close()


_sequence = iter(range(1, 10**6))


def _payment(node, *, to=DEPOSIT.classic_address, drops="1000000", tag=None, wallet=PAYER, flags=0, send_max=None,
             **outcome) -> str:
    tx = Payment(account=wallet.classic_address, destination=to, amount=drops, destination_tag=tag,
                 sequence=next(_sequence), fee="12", flags=flags, send_max=send_max)
    return node.submit(sign(tx, wallet).blob(), **outcome)


def _watch(*accounts):
    return Watch(addresses=frozenset(accounts or [DEPOSIT.classic_address]))


def test_head_and_block_read_validated_ledgers_with_unix_times(node, adapter):
    node.close_ledger()
    head = adapter.head()
    assert head.number == node.validated.index and head.hash == node.validated.hash
    assert head.timestamp == node.validated.close_time + RIPPLE_EPOCH
    assert abs(head.timestamp - __import__("time").time()) < 60
    assert adapter.block(head.number) == head
    assert adapter.block(head.number - 1).hash == node.validated.parent_hash
    assert adapter.block(head.number + 1) is None


def test_a_payment_with_a_tag_is_seen_with_its_ledger_and_index(node, adapter):
    _payment(node, drops="5", tag=99)  # an earlier transaction of the same ledger
    txid = _payment(node, drops="2500000", tag=7)
    ledger = node.close_ledger()

    found = adapter.scan(from_block=ledger.index, to_block=ledger.index, watch=_watch())

    assert found[1] == Observed(
        tx_hash=txid, index=1, to_address=DEPOSIT.classic_address, asset="XRP", amount_base_units=2_500_000,
        sender=PAYER.classic_address, block_number=ledger.index, block_hash=ledger.hash, destination_tag=7)
    assert (found[0].destination_tag, found[0].index, found[0].amount_base_units) == (99, 0, 5)


def test_a_payment_without_a_tag_is_reported_with_none(node, adapter):
    _payment(node)
    ledger = node.close_ledger()
    [found] = adapter.scan(from_block=ledger.index, to_block=ledger.index, watch=_watch())
    assert found.destination_tag is None


def test_payments_to_unwatched_accounts_and_outgoing_ones_are_ignored(node, adapter):
    _payment(node, to=OTHER.classic_address, tag=1)
    _payment(node, wallet=DEPOSIT, to=PAYER.classic_address, tag=1)  # the deposit account pays out
    ledger = node.close_ledger()
    assert adapter.scan(from_block=ledger.index, to_block=ledger.index, watch=_watch()) == []


def test_partial_payment_counts_the_delivered_amount_never_Amount(node, adapter):
    """The partial-payment attack: Amount says 1,000 XRP, the ledger delivered 1 XRP."""
    attack = Payment(account=PAYER.classic_address, destination=DEPOSIT.classic_address, amount="1000000000",
                     destination_tag=5, sequence=next(_sequence), fee="12", flags=PaymentFlag.TF_PARTIAL_PAYMENT,
                     send_max=IssuedCurrencyAmount(currency="USD", issuer=OTHER.classic_address, value="1000"))
    node.submit(sign(attack, PAYER).blob(), delivered="1000000")
    ledger = node.close_ledger()

    [found] = adapter.scan(from_block=ledger.index, to_block=ledger.index, watch=_watch())
    assert found.amount_base_units == 1_000_000 and found.destination_tag == 5


def test_failed_and_non_xrp_payments_are_ignored(node, adapter):
    _payment(node, tag=1, result="tecUNFUNDED_PAYMENT")
    _payment(node, tag=2, result="tecPATH_DRY")
    token = IssuedCurrencyAmount(currency="USD", issuer=OTHER.classic_address, value="10")
    _payment(node, drops=token, tag=3)  # an issued-currency payment: delivered_amount is an object
    ledger = node.close_ledger()
    assert adapter.scan(from_block=ledger.index, to_block=ledger.index, watch=_watch()) == []


def test_a_range_of_ledgers_paged_with_markers(node, adapter, monkeypatch):
    monkeypatch.setattr(xrpl_module, "ACCOUNT_TX_LIMIT", 2)
    first = node.validated.index + 1
    expected = []
    for n in range(5):
        expected.append(_payment(node, drops=str(10 + n), tag=n + 1))
        node.close_ledger()
        node.close_ledger()  # an empty ledger in between
    found = adapter.scan(from_block=first, to_block=node.validated.index, watch=_watch())
    assert [o.tx_hash for o in found] == expected
    assert [o.destination_tag for o in found] == [1, 2, 3, 4, 5]
    assert all(adapter.block(o.block_number).hash == o.block_hash for o in found)
    markers = [r for r in node.requests if r["method"] == "account_tx" and "marker" in r["params"][0]]
    assert len(markers) == 2  # 5 transactions, 2 a page


def test_many_watched_tags_cost_the_same_requests(node, adapter):
    """The watched set is accounts; tags are matched by the scanner: one account_tx walk,
    whatever the number of orders."""
    for tag in range(1, 51):
        _payment(node, drops="1", tag=tag)
    ledger = node.close_ledger()
    before = len(node.requests)
    found = adapter.scan(from_block=ledger.index, to_block=ledger.index, watch=_watch())
    assert sorted(o.destination_tag for o in found) == list(range(1, 51))
    assert len(node.requests) - before == 2  # one account_tx page, one ledger for the hash


def test_several_watched_accounts(node, adapter):
    _payment(node, tag=1)
    _payment(node, to=OTHER.classic_address, tag=2)
    ledger = node.close_ledger()
    found = adapter.scan(from_block=ledger.index, to_block=ledger.index,
                         watch=_watch(DEPOSIT.classic_address, OTHER.classic_address))
    assert {(o.to_address, o.destination_tag) for o in found} == {
        (DEPOSIT.classic_address, 1), (OTHER.classic_address, 2)}


def test_an_account_the_ledger_does_not_know_has_no_payments(node, adapter):
    assert adapter.scan(from_block=2, to_block=node.validated.index, watch=_watch()) == []
    assert adapter.scan(from_block=2, to_block=2, watch=Watch(addresses=frozenset())) == []


def test_a_node_missing_part_of_the_range_is_unavailable(node, adapter):
    _payment(node, tag=1)
    node.close_ledger()
    with pytest.raises(ChainUnavailable, match="lacks that history"):
        adapter.scan(from_block=1, to_block=node.validated.index, watch=_watch())  # ledger 1 is not kept
    with pytest.raises(ChainUnavailable, match="lacks that history"):
        adapter.scan(from_block=2, to_block=node.validated.index + 5, watch=_watch())


def test_node_errors_are_chain_unavailable(node, adapter):
    node.fail_next = 1
    with pytest.raises(ChainUnavailable, match="HTTP 503"):
        adapter.head()
    down = XrplAdapter(mode="live", rpc_url=closed_url("/"), timeout=2)
    with pytest.raises(ChainUnavailable):
        down.head()
    with pytest.raises(ChainUnavailable):
        down.scan(from_block=1, to_block=2, watch=_watch())


def test_an_error_answer_is_chain_unavailable(node, adapter, monkeypatch):
    monkeypatch.setattr(node, "_rpc_account_tx", lambda params: {"status": "error", "error": "lgrIdxsInvalid"})
    with pytest.raises(ChainUnavailable, match="lgrIdxsInvalid"):
        adapter.scan(from_block=2, to_block=2, watch=_watch())


def test_the_fake_refuses_a_forged_signature(node):
    signed = sign(Payment(account=PAYER.classic_address, destination=DEPOSIT.classic_address, amount="1",
                          sequence=1, fee="12"), OTHER)  # signed with another account's key
    with pytest.raises(XrplFakeError):
        node.submit(signed.blob())


def test_normalize_accepts_classic_addresses_only(adapter):
    assert adapter.normalize(DEPOSIT.classic_address) == DEPOSIT.classic_address
    x_address = DEPOSIT.get_xaddress(tag=5)
    for junk in (x_address, "", " " + DEPOSIT.classic_address, DEPOSIT.classic_address[:-1] + "x",
                 "0x" + "ab" * 20, None, 5):
        with pytest.raises(ValueError):
            adapter.normalize(junk)


def test_registry_builds_the_xrpl_adapter(settings, node):
    from chains.adapters.registry import adapter_for

    settings.FLUXA_CHAINS = {"xrpl": {"live": node.url}}
    adapter = adapter_for("xrpl", "live")
    assert isinstance(adapter, XrplAdapter) and adapter.network == "xrpl" and adapter.mode == "live"
    assert adapter_for("xrpl", "test") is None
