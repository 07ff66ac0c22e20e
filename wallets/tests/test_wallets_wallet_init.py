"""`manage.py wallet_init`: generate (printed once), import from env/file, refuse replacing."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command

from chains.derivation import validate_mnemonic
from wallets.keys import mnemonic_fingerprint, wallet_mnemonic
from wallets.models import RootOrigin, WalletRoot

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_wallet_env")]

TEST_MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


def _run(*args: str, stdin: str | None = None, monkeypatch=None) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command("wallet_init", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_generate_prints_the_new_words_once():
    out, err = _run("--generate")

    mnemonic = wallet_mnemonic()
    assert validate_mnemonic(mnemonic) and len(mnemonic.split()) == 24
    assert out.count(mnemonic) == 1  # the one-line form, shown this once
    assert "WRITE THESE 24 WORDS DOWN" in out
    root = WalletRoot.objects.get()
    assert root.origin == RootOrigin.GENERATED and root.fingerprint in out
    assert mnemonic not in err

    # A second run refuses and shows nothing of the stored root.
    with pytest.raises(CommandError, match="already has an HD wallet root") as info:
        _run("--generate")
    assert mnemonic not in str(info.value)
    assert wallet_mnemonic() == mnemonic


def test_generate_with_force_replaces_the_root():
    _run("--generate")
    first = WalletRoot.objects.get().fingerprint
    out, err = _run("--generate", "--force")
    assert WalletRoot.objects.get().fingerprint != first
    assert wallet_mnemonic() in out
    assert f"Replaced the HD wallet root {first}" in err


def test_import_from_env(monkeypatch, rare_mnemonic):
    monkeypatch.setenv("FLUXA_WALLET_MNEMONIC", rare_mnemonic)

    out, err = _run("--from-env")

    assert wallet_mnemonic() == rare_mnemonic
    assert mnemonic_fingerprint(rare_mnemonic) in out
    assert rare_mnemonic.split()[0] not in out + err
    assert WalletRoot.objects.get().origin == RootOrigin.IMPORTED


def test_import_from_env_reads_the_file_variable(monkeypatch, tmp_path, rare_mnemonic):
    path = tmp_path / "words"
    path.write_text(rare_mnemonic)
    path.chmod(0o600)
    monkeypatch.setenv("FLUXA_WALLET_MNEMONIC_FILE", str(path))
    _run("--from-env")
    assert wallet_mnemonic() == rare_mnemonic


def test_import_from_env_without_variables_fails():
    with pytest.raises(CommandError, match="FLUXA_WALLET_MNEMONIC"):
        _run("--from-env")
    assert not WalletRoot.objects.exists()


def test_import_from_file_and_stdin(tmp_path, monkeypatch, rare_mnemonic):
    path = tmp_path / "words"
    path.write_text("\n" + rare_mnemonic.upper() + "\n")
    path.chmod(0o600)
    out, _ = _run("--from-file", str(path))
    assert wallet_mnemonic() == rare_mnemonic
    assert "Imported" in out

    out, _ = _run("--from-file", "-", stdin=rare_mnemonic, monkeypatch=monkeypatch)
    assert "nothing changed" in out


def test_import_from_a_missing_file_fails(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        _run("--from-file", str(tmp_path / "missing"))


def test_importing_the_same_root_again_changes_nothing(tmp_path):
    path = tmp_path / "words"
    path.write_text(TEST_MNEMONIC)
    _run("--from-file", str(path))
    created_at = WalletRoot.objects.get().created_at
    out, _ = _run("--from-file", str(path))
    assert "already set up; nothing changed" in out and "73c5da0a" in out
    assert WalletRoot.objects.get().created_at == created_at


def test_a_different_root_is_refused_without_force(tmp_path, rare_mnemonic):
    first, second = tmp_path / "a", tmp_path / "b"
    first.write_text(TEST_MNEMONIC)
    second.write_text(rare_mnemonic)
    _run("--from-file", str(first))

    with pytest.raises(CommandError) as info:
        _run("--from-file", str(second))
    message = str(info.value)
    assert "73c5da0a" in message and mnemonic_fingerprint(rare_mnemonic) in message
    assert "--force" in message
    assert wallet_mnemonic() == TEST_MNEMONIC

    out, err = _run("--from-file", str(second), "--force")
    assert wallet_mnemonic() == rare_mnemonic
    assert "Replaced the HD wallet root 73c5da0a" in err


def test_an_invalid_mnemonic_is_refused_without_echoing_it(tmp_path, rare_words):
    path = tmp_path / "words"
    path.write_text(" ".join(rare_words[:12]))
    with pytest.raises(CommandError) as info:
        _run("--from-file", str(path))
    assert not [w for w in rare_words if re.search(rf"\b{w}\b", str(info.value))]
    assert not WalletRoot.objects.exists()


def test_a_source_is_required():
    with pytest.raises(CommandError):
        _run()
    with pytest.raises(CommandError):
        _run("--generate", "--from-env")
