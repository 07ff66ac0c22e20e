"""The deployment's HD wallet root: where the mnemonic comes from and how code gets it back.

* The operator supplies it through FLUXA_WALLET_MNEMONIC or FLUXA_WALLET_MNEMONIC_FILE and
  imports it with `manage.py wallet_init` (or lets `wallet_init --generate` make one).
* `wallets.services.wallet_root_ensure()` makes sure a root exists without operator action
  (`make run`, tests): it imports from the environment when set, else generates one and logs
  only its fingerprint.
* `wallet_mnemonic()` decrypts it, for derivation and signing only. Never log, print or return
  it anywhere else.

The variables are read from os.environ here, deliberately not through settings: Django's debug
page prints settings. (FLUXA_ENV_FILE is loaded into os.environ by settings.py.)
"""

from __future__ import annotations

import logging
import os
import stat
import unicodedata
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from chains.derivation import InvalidMnemonic, master_fingerprint, mnemonic_to_seed, validate_mnemonic
from core import secretbox
from wallets.models import WalletRoot

logger = logging.getLogger("fluxa.wallets")

ENV_MNEMONIC = "FLUXA_WALLET_MNEMONIC"
ENV_MNEMONIC_FILE = "FLUXA_WALLET_MNEMONIC_FILE"

__all__ = [
    "ENV_MNEMONIC",
    "ENV_MNEMONIC_FILE",
    "InvalidMnemonic",
    "WalletRootMissing",
    "WalletRootNotBackedUp",
    "mnemonic_fingerprint",
    "mnemonic_from_environment",
    "normalize_mnemonic",
    "wallet_mnemonic",
    "wallet_root",
]


class WalletRootMissing(RuntimeError):
    """No HD root has been set up: run `manage.py wallet_init` (or wallet_root_ensure())."""

    def __init__(self) -> None:
        super().__init__(
            "This deployment has no HD wallet root yet: run `manage.py wallet_init --generate` "
            "or `manage.py wallet_init --from-env` (see docs/wallets.md)."
        )


class WalletRootNotBackedUp(RuntimeError):
    """The root was generated automatically (its words were never shown), and live funds must
    not go to it: `manage.py wallet_init` sets up one the operator has backed up."""

    def __init__(self) -> None:
        super().__init__(
            "Live deposit addresses need an HD wallet root the operator has backed up: the current one "
            "was generated automatically and its words were never shown (manage.py wallet_init)."
        )


def normalize_mnemonic(mnemonic: str) -> str:
    """The canonical form that is stored: NFKD, lower case, single spaces. Raises
    InvalidMnemonic (whose message never contains the words) if it is not valid BIP39."""
    if not isinstance(mnemonic, str):
        raise InvalidMnemonic("The mnemonic must be a string.")
    normalized = " ".join(unicodedata.normalize("NFKD", mnemonic).lower().split())
    if not validate_mnemonic(normalized):
        mnemonic_to_seed(normalized)  # raises InvalidMnemonic with the reason, never the words
        raise InvalidMnemonic("Invalid mnemonic.")  # pragma: no cover (defensive)
    return normalized


def mnemonic_fingerprint(mnemonic: str) -> str:
    """BIP32 master key fingerprint (8 lowercase hex digits) of the mnemonic's seed without
    passphrase: hash160(master public key)[:4], the number hardware wallets, Sparrow, Electrum
    and output descriptors show. Public: it reveals nothing about the words."""
    return master_fingerprint(mnemonic_to_seed(normalize_mnemonic(mnemonic)))


def mnemonic_from_environment() -> str | None:
    """The operator's mnemonic from FLUXA_WALLET_MNEMONIC or the file FLUXA_WALLET_MNEMONIC_FILE
    names, or None when neither is set. Not validated here."""
    inline = os.environ.get(ENV_MNEMONIC, "").strip()
    path = os.environ.get(ENV_MNEMONIC_FILE, "").strip()
    if inline and path:
        raise ImproperlyConfigured(f"Set either {ENV_MNEMONIC} or {ENV_MNEMONIC_FILE}, not both.")
    if inline:
        return inline
    if path:
        return read_mnemonic_file(path)
    return None


def read_mnemonic_file(path: str | os.PathLike) -> str:
    """The mnemonic in a text file (whitespace ignored). Warns when others may read the file."""
    file = Path(path)
    try:
        mode = file.stat().st_mode
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ImproperlyConfigured(f"Cannot read the mnemonic file {file}: {exc.strerror}.") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning("The mnemonic file %s is readable by other users: chmod 600 it.", file)
    return text.strip()


def wallet_root() -> WalletRoot:
    """The deployment's root (fingerprint, origin); raises WalletRootMissing."""
    root = WalletRoot.objects.first()
    if root is None:
        raise WalletRootMissing()
    return root


def wallet_mnemonic() -> str:
    """The decrypted mnemonic, for derivation and signing only. Raises WalletRootMissing, or
    secretbox.SecretUnreadable when FLUXA_ENCRYPTION_KEYS cannot decrypt it."""
    return root_mnemonic(wallet_root())


def root_mnemonic(root: WalletRoot) -> str:
    """The decrypted mnemonic of a root already read (saves a query)."""
    return secretbox.decrypt(root.mnemonic_encrypted)
