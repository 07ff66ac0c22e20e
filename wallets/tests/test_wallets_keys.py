"""The HD root: encryption at rest, import/generate/ensure, and nothing leaking the words."""

from __future__ import annotations

import logging
import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, transaction
from django.test import RequestFactory

from chains.derivation import InvalidMnemonic, derive_address, generate_mnemonic
from core import secretbox
from wallets.keys import (
    WalletRootMissing,
    mnemonic_fingerprint,
    wallet_mnemonic,
    wallet_root,
)
from wallets.models import RootOrigin, WalletRoot
from wallets.services import WalletRootConflict, wallet_root_ensure, wallet_root_generate, wallet_root_import

pytestmark = pytest.mark.django_db

TEST_MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


def _raw_rows() -> str:
    """Every column of every wallet root row, as the database stores it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM wallets_walletroot")
        return repr(cursor.fetchall())


def _leaks(text: str, words) -> list[str]:
    return [w for w in words if re.search(rf"\b{re.escape(w)}\b", text, flags=re.IGNORECASE)]


def test_fingerprint_is_the_bip32_master_fingerprint():
    # The well-known master fingerprint of the BIP39 test mnemonic (BIP-0084 vectors, Sparrow).
    assert mnemonic_fingerprint(TEST_MNEMONIC) == "73c5da0a"
    assert mnemonic_fingerprint("  ABANDON " + TEST_MNEMONIC[8:].upper() + " ") == "73c5da0a"


def test_the_mnemonic_is_stored_only_encrypted(rare_mnemonic, rare_words):
    root, created = wallet_root_import(mnemonic=rare_mnemonic)

    assert created and root.origin == RootOrigin.IMPORTED
    raw = _raw_rows()
    assert _leaks(raw, rare_words) == []
    assert rare_mnemonic not in raw
    assert secretbox.decrypt(WalletRoot.objects.get().mnemonic_encrypted) == rare_mnemonic
    assert wallet_mnemonic() == rare_mnemonic
    assert wallet_root().fingerprint == mnemonic_fingerprint(rare_mnemonic)


def test_the_stored_form_is_normalized():
    wallet_root_import(mnemonic="  " + TEST_MNEMONIC.upper().replace(" ", "   ") + "\n")
    assert wallet_mnemonic() == TEST_MNEMONIC


def test_without_a_root_wallet_mnemonic_raises():
    with pytest.raises(WalletRootMissing, match="wallet_init"):
        wallet_mnemonic()


def test_only_one_root_row_can_exist(wallet_root):
    with pytest.raises(IntegrityError), transaction.atomic():
        WalletRoot.objects.create(id=2, mnemonic_encrypted="x", fingerprint="00000000", origin="auto")


def test_import_is_idempotent_and_refuses_a_different_root_without_force(wallet_root, rare_mnemonic):
    again, changed = wallet_root_import(mnemonic=TEST_MNEMONIC)
    assert not changed and again.fingerprint == "73c5da0a"

    with pytest.raises(WalletRootConflict) as info:
        wallet_root_import(mnemonic=rare_mnemonic)
    assert info.value.existing_fingerprint == "73c5da0a"
    assert wallet_mnemonic() == TEST_MNEMONIC

    replaced, changed = wallet_root_import(mnemonic=rare_mnemonic, force=True)
    assert changed and replaced.fingerprint == mnemonic_fingerprint(rare_mnemonic)
    assert wallet_mnemonic() == rare_mnemonic
    assert WalletRoot.objects.count() == 1


def test_invalid_mnemonics_are_refused_without_echoing_words(rare_words):
    bad = " ".join(rare_words[:23] + ("zoo",))  # checksum almost surely wrong; else too few words
    for candidate in (bad, " ".join(rare_words[:11]), "zebra " * 12):
        with pytest.raises(InvalidMnemonic) as info:
            wallet_root_import(mnemonic=candidate)
        assert _leaks(str(info.value), rare_words) == []
    assert not WalletRoot.objects.exists()


def test_generate_returns_the_words_once_and_hides_them_in_repr():
    generated = wallet_root_generate()
    words = generated.mnemonic.split()
    assert len(words) == 24
    assert generated.mnemonic not in repr(generated)
    assert generated.root.fingerprint in repr(generated)
    assert wallet_mnemonic() == generated.mnemonic
    with pytest.raises(WalletRootConflict):
        wallet_root_generate()


def test_repr_and_str_of_the_root_leak_nothing(rare_mnemonic, rare_words):
    root, _ = wallet_root_import(mnemonic=rare_mnemonic)
    for text in (repr(root), str(root), repr(WalletRoot.objects.all())):
        assert _leaks(text, rare_words) == []
        assert root.mnemonic_encrypted not in text
        assert root.fingerprint in text


def test_ensure_generates_a_root_and_logs_only_its_fingerprint(clean_wallet_env, caplog):
    caplog.set_level(logging.DEBUG)

    root = wallet_root_ensure()

    assert root.origin == RootOrigin.AUTO
    words = wallet_mnemonic().split()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "fluxa.wallets"]
    assert len(warnings) == 1 and root.fingerprint in warnings[0].getMessage()
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert not [pair for pair in zip(words, words[1:]) if " ".join(pair) in everything]

    caplog.clear()
    assert wallet_root_ensure().fingerprint == root.fingerprint  # exists: nothing generated
    assert not [r for r in caplog.records if r.name == "fluxa.wallets"]


def test_ensure_imports_from_the_environment(clean_wallet_env, monkeypatch, rare_mnemonic, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("FLUXA_WALLET_MNEMONIC", rare_mnemonic)

    root = wallet_root_ensure()

    assert root.origin == RootOrigin.IMPORTED
    assert root.fingerprint == mnemonic_fingerprint(rare_mnemonic)
    assert rare_mnemonic not in caplog.text


def test_ensure_imports_from_a_file(clean_wallet_env, monkeypatch, tmp_path, rare_mnemonic):
    path = tmp_path / "mnemonic.txt"
    path.write_text(rare_mnemonic + "\n")
    path.chmod(0o600)
    monkeypatch.setenv("FLUXA_WALLET_MNEMONIC_FILE", str(path))

    assert wallet_root_ensure().fingerprint == mnemonic_fingerprint(rare_mnemonic)


def test_ensure_refuses_both_variables_and_a_bad_mnemonic(clean_wallet_env, monkeypatch, tmp_path, rare_words):
    monkeypatch.setenv("FLUXA_WALLET_MNEMONIC", TEST_MNEMONIC)
    monkeypatch.setenv("FLUXA_WALLET_MNEMONIC_FILE", str(tmp_path / "x"))
    with pytest.raises(ImproperlyConfigured):
        wallet_root_ensure()

    monkeypatch.delenv("FLUXA_WALLET_MNEMONIC_FILE")
    monkeypatch.setenv("FLUXA_WALLET_MNEMONIC", " ".join(rare_words[:12]))
    with pytest.raises(InvalidMnemonic) as info:
        wallet_root_ensure()
    assert _leaks(str(info.value), rare_words) == []
    assert not WalletRoot.objects.exists()


def test_test_and_live_addresses_come_from_separate_branches():
    mnemonic = generate_mnemonic()
    for network in ("ethereum", "tron", "bitcoin", "litecoin", "solana", "xrpl"):
        live = derive_address(mnemonic=mnemonic, network=network, mode="live", index=0)
        test = derive_address(mnemonic=mnemonic, network=network, mode="test", index=0)
        assert live.address != test.address, network
        assert live.path != test.path, network


def test_the_debug_page_filter_hides_the_mnemonic_variable(settings, rare_mnemonic):
    from fluxa_site.error_reporting import FluxaExceptionReporterFilter

    request = RequestFactory().get("/", FLUXA_WALLET_MNEMONIC=rare_mnemonic, FLUXA_WALLET_SEED="x")
    meta = FluxaExceptionReporterFilter().get_safe_request_meta(request)
    assert rare_mnemonic not in repr(meta)
    assert meta["FLUXA_WALLET_MNEMONIC"] == FluxaExceptionReporterFilter.cleansed_substitute
