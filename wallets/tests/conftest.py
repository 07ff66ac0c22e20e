"""Fixtures of the wallets tests: a wallet root and orders to hang deposit addresses on."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from eth_account.hdaccount import Language
from eth_account.hdaccount.mnemonic import Mnemonic

from chains.derivation import validate_mnemonic

BIP39_WORDS = tuple(Mnemonic(Language.ENGLISH).wordlist)

# 23 words that never occur in admin pages or messages; the 24th completes the checksum.
_RARE = ("zebra walnut oyster lobster tornado velvet quantum raccoon squirrel toddler ostrich "
         "nephew vapor giraffe salmon sphere tuna uncle wasp turtle spider puzzle vivid").split()


def _complete(words: list[str]) -> str:
    for last in BIP39_WORDS:
        phrase = " ".join([*words, last])
        if validate_mnemonic(phrase):
            return phrase
    raise AssertionError("no checksum word")  # pragma: no cover


RARE_MNEMONIC = _complete(_RARE)
RARE_WORDS = tuple(_RARE)
TEST_MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
TEST_FINGERPRINT = "73c5da0a"


@pytest.fixture
def rare_mnemonic() -> str:
    """A valid 24-word mnemonic of 23 rare words (RARE_WORDS) plus a checksum word."""
    return RARE_MNEMONIC


@pytest.fixture
def rare_words() -> tuple[str, ...]:
    return RARE_WORDS


@pytest.fixture
def wallet_root(db):
    """The root of the BIP39 test mnemonic "abandon ... about" (fingerprint 73c5da0a)."""
    from wallets.services import wallet_root_import

    root, _ = wallet_root_import(mnemonic=TEST_MNEMONIC)
    return root


@pytest.fixture
def clean_wallet_env(monkeypatch):
    monkeypatch.delenv("FLUXA_WALLET_MNEMONIC", raising=False)
    monkeypatch.delenv("FLUXA_WALLET_MNEMONIC_FILE", raising=False)


def _channel(network: str):
    from charges.models import Channel

    channel, _ = Channel.objects.get_or_create(
        code=f"wtest_{network}",
        defaults=dict(name=f"wallets test {network}", network=network, asset="TST", asset_decimals=6,
                      required_confirmations=1, min_amount=Decimal("0.01")),
    )
    return channel


@pytest.fixture
def make_order(db):
    """make_order(mode="test", network="ethereum", status="pending", expires_at=...) -> Order,
    straight through the ORM with the fields orders.Order requires."""
    from orders.models import Order
    from testing.factories import MerchantFactory

    merchants = {}

    def make(*, mode: str = "test", network: str = "ethereum", status: str = "pending",
             expires_at=None, merchant=None):
        if merchant is None:
            merchant = merchants.get("m") or merchants.setdefault("m", MerchantFactory())
        return Order.objects.create(
            merchant=merchant, mode=mode, channel=_channel(network), network=network,
            settlement_mode="direct", amount=Decimal("10"), currency="USD", asset="TST",
            amount_due=Decimal("10"), status=status,
            expires_at=expires_at if expires_at is not None else timezone.now() + timedelta(hours=1),
        )

    return make
