"""Deterministic deposit addresses and signing keys from one BIP39 mnemonic.

Derivation paths (``i`` = deposit index, ``0 <= i < 2**31``):

==========  ==============================  ==================================
network     live                            test
==========  ==============================  ==================================
bitcoin     m/84'/0'/0'/0/i  (bc1q...)      m/84'/1'/0'/0/i  (tb1q...)
litecoin    m/84'/2'/0'/0/i  (ltc1q...)     m/84'/1'/0'/0/i  (tltc1q...)
EVM (all)   m/44'/60'/0'/0/i                m/44'/60'/1'/0/i
tron        m/44'/195'/0'/0/i               m/44'/195'/1'/0/i
solana      m/44'/501'/i'/0'                m/44'/501'/i'/1'
xrpl        m/44'/144'/0'/0/0 (one account) m/44'/144'/1'/0/0
==========  ==============================  ==================================

* UTXO chains follow BIP84; test mode uses coin type 1 (SLIP-44 "all
  testnets"), so bitcoin-test and litecoin-test share keys (same hash160,
  different hrp) — harmless for test coins.
* EVM chains share one address per index (same key on every chain); test
  mode uses account ``1'`` so test and live never share keys.  TRON follows
  the same scheme with coin type 195.
* Solana follows the Phantom / ``solana-keygen`` convention
  ``m/44'/501'/i'/0'`` (SLIP-10 ed25519, hardened only); test mode replaces
  the last (change) component ``0'`` by ``1'``.
* The XRP Ledger uses one receiving account per deployment and mode; orders
  are told apart by a destination tag, ``tag = index + 1`` (tag 0 is avoided
  because many services treat it as "no tag").

Secrets: the BIP39 seed is computed once per (mnemonic, passphrase) and kept
in a small in-process cache keyed by an HMAC under a per-process random key,
so neither the cache keys nor any exception message contain the mnemonic; the
BIP32 parent node of each path's last level is cached the same way.
secp256k1 keys are derived with libsecp256k1 (coincurve), see "BIP32 on
secp256k1" below.
Private keys are only handed out wrapped in :class:`SigningKey`, whose
``repr``/``str`` never show them and which refuses to be pickled.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

os.environ.setdefault("BCL_DATA_DIR", os.path.join(tempfile.gettempdir(), "fluxa-bitcoinlib"))

from bitcoinlib.keys import Key  # noqa: E402  (BCL_DATA_DIR must be set first)
from coincurve import PrivateKey as _Secp256k1PrivateKey  # noqa: E402
from coincurve import PublicKey as _Secp256k1PublicKey  # noqa: E402
from eth_account.hdaccount import Language  # noqa: E402
from eth_account.hdaccount.mnemonic import Mnemonic as _EthMnemonic  # noqa: E402
from eth_keys import keys as eth_keys  # noqa: E402
from eth_keys.backends import CoinCurveECCBackend  # noqa: E402
from eth_utils import keccak  # noqa: E402
from solders.keypair import Keypair  # noqa: E402
from xrpl.core.addresscodec import (  # noqa: E402
    classic_address_to_xaddress,
    xaddress_to_classic_address,
)
from xrpl.core.keypairs import derive_classic_address  # noqa: E402

from chains.encoding import encode_segwit, tron_address_from_account_id  # noqa: E402
from chains.networks import Network, check_mode, get_network  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    from eth_account.signers.local import LocalAccount
    from xrpl.wallet import Wallet

MAX_INDEX = 2**31 - 1
MAX_DESTINATION_TAG = 2**32 - 1
HARDENED = 0x80000000
VALID_STRENGTHS = (128, 160, 192, 224, 256)
VALID_WORD_COUNTS = (12, 15, 18, 21, 24)

_WORDLIST: tuple[str, ...] = tuple(_EthMnemonic(Language.ENGLISH).wordlist)
_WORD_INDEX = {word: i for i, word in enumerate(_WORDLIST)}


class InvalidMnemonic(ValueError):
    """The mnemonic is not a valid English BIP39 phrase (message never echoes it)."""


# --------------------------------------------------------------------------- #
# Public result types
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class DerivedAddress:
    """A public deposit address; contains no secret material."""

    network: str
    mode: str
    index: int
    path: str
    address: str
    destination_tag: int | None = None

    @property
    def xrpl_x_address(self) -> str:
        """X-address (address + destination tag) for XRPL results."""
        if self.destination_tag is None:
            raise ValueError("Only XRPL addresses carry a destination tag.")
        return xrpl_x_address(self.address, self.destination_tag, test=self.mode == "test")


class SigningKey:
    """Private key for one derived address, to be used only while signing.

    Use as a context manager so the secret buffer is zeroed afterwards::

        with derive_signing_key(...) as key:
            signed = key.eth_account().sign_transaction(tx)

    ``repr``/``str`` show only public data; pickling and copying are refused.
    Objects returned by the ``eth_account()``/``solana_keypair()``/
    ``xrpl_wallet()`` helpers come from third-party libraries and hold the
    secret themselves: keep them local to the signing code.
    """

    __slots__ = ("network", "mode", "index", "path", "address", "curve", "_public_key", "_secret")

    def __init__(
        self,
        *,
        network: str,
        mode: str,
        index: int,
        path: str,
        address: str,
        curve: str,
        public_key: bytes,
        secret: bytes,
    ) -> None:
        self.network = network
        self.mode = mode
        self.index = index
        self.path = path
        self.address = address
        self.curve = curve
        self._public_key = bytes(public_key)
        self._secret: bytearray | None = bytearray(secret)

    def __repr__(self) -> str:
        state = "wiped" if self._secret is None else "redacted"
        return (
            f"<SigningKey network={self.network} mode={self.mode} index={self.index} "
            f"path={self.path} address={self.address} secret=<{state}>>"
        )

    __str__ = __repr__

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("SigningKey holds private key material and cannot be pickled or copied.")

    def __enter__(self) -> SigningKey:
        return self

    def __exit__(self, *exc: object) -> None:
        self.wipe()

    @property
    def public_key_hex(self) -> str:
        """Public key: compressed SEC1 (secp256k1) or raw 32 bytes (ed25519)."""
        return self._public_key.hex()

    def secret_bytes(self) -> bytes:
        """The raw 32-byte private key (secp256k1) or ed25519 seed. Sign, then discard."""
        if self._secret is None:
            raise ValueError("This SigningKey has been wiped.")
        return bytes(self._secret)

    def wipe(self) -> None:
        """Zero the in-object secret buffer; the key is unusable afterwards."""
        if self._secret is not None:
            for i in range(len(self._secret)):
                self._secret[i] = 0
            self._secret = None

    def _require_family(self, family: str) -> None:
        actual = get_network(self.network).family
        if actual != family:
            raise ValueError(f"{self.network} keys are not {family} keys.")

    def eth_account(self) -> LocalAccount:
        """eth-account ``LocalAccount`` for signing EVM transactions."""
        from eth_account import Account

        self._require_family("evm")
        return Account.from_key(self.secret_bytes())

    def solana_keypair(self) -> Keypair:
        """solders ``Keypair`` for signing Solana transactions."""
        self._require_family("solana")
        return Keypair.from_seed(self.secret_bytes())

    def wif(self) -> str:
        """Wallet Import Format private key for bitcoin/litecoin (compressed)."""
        self._require_family("utxo")
        network = get_network(self.network).bitcoinlib_network_for(self.mode)
        return Key(self.secret_bytes(), network=network, compressed=True).wif()

    def xrpl_wallet(self) -> Wallet:
        """xrpl-py ``Wallet`` (secp256k1) for signing XRPL transactions."""
        from xrpl.constants import CryptoAlgorithm
        from xrpl.wallet import Wallet

        self._require_family("xrpl")
        return Wallet(
            self._public_key.hex().upper(),
            "00" + self.secret_bytes().hex().upper(),
            algorithm=CryptoAlgorithm.SECP256K1,
        )


# --------------------------------------------------------------------------- #
# BIP39
# --------------------------------------------------------------------------- #


def _normalize_mnemonic(mnemonic: str) -> str:
    if not isinstance(mnemonic, str):
        raise InvalidMnemonic("The mnemonic must be a string.")
    return " ".join(unicodedata.normalize("NFKD", mnemonic).lower().split())


def _mnemonic_error(words: list[str]) -> str | None:
    """Reason why normalized ``words`` are not valid BIP39, or None. Never echoes words."""
    if len(words) not in VALID_WORD_COUNTS:
        return f"a BIP39 mnemonic has 12, 15, 18, 21 or 24 words, not {len(words)}"
    unknown = sum(1 for w in words if w not in _WORD_INDEX)
    if unknown:
        return f"{unknown} word(s) are not in the English BIP39 word list"
    bits = "".join(format(_WORD_INDEX[w], "011b") for w in words)
    checksum_len = len(bits) // 33
    entropy_bits = bits[: len(bits) - checksum_len]
    entropy = int(entropy_bits, 2).to_bytes(len(entropy_bits) // 8, "big")
    expected = format(hashlib.sha256(entropy).digest()[0], "08b")[:checksum_len]
    if bits[-checksum_len:] != expected:
        return "the mnemonic checksum does not match (a word is wrong or misplaced)"
    return None


def validate_mnemonic(mnemonic: str) -> bool:
    """True if ``mnemonic`` is a valid English BIP39 phrase (any case/spacing)."""
    try:
        words = _normalize_mnemonic(mnemonic).split()
    except InvalidMnemonic:
        return False
    return _mnemonic_error(words) is None


def generate_mnemonic(strength: int = 256) -> str:
    """New random English BIP39 mnemonic (256 bits -> 24 words) from ``secrets``."""
    if strength not in VALID_STRENGTHS:
        raise ValueError(f"strength must be one of {VALID_STRENGTHS}, got {strength!r}.")
    entropy = secrets.token_bytes(strength // 8)
    checksum = format(hashlib.sha256(entropy).digest()[0], "08b")[: strength // 32]
    bits = format(int.from_bytes(entropy, "big"), f"0{strength}b") + checksum
    return " ".join(_WORDLIST[int(bits[i : i + 11], 2)] for i in range(0, len(bits), 11))


_SEED_CACHE_SIZE = 16
_seed_cache: OrderedDict[bytes, bytes] = OrderedDict()
_seed_cache_lock = threading.Lock()
_seed_cache_key = secrets.token_bytes(32)


def _seed(mnemonic: str, passphrase: str) -> bytes:
    """BIP39 seed (PBKDF2-HMAC-SHA512, 2048 rounds), cached per process."""
    normalized = _normalize_mnemonic(mnemonic)
    reason = _mnemonic_error(normalized.split())
    if reason:
        raise InvalidMnemonic(f"Invalid mnemonic: {reason}.")
    if not isinstance(passphrase, str):
        raise TypeError("passphrase must be a string.")
    salt = ("mnemonic" + unicodedata.normalize("NFKD", passphrase)).encode("utf-8")
    password = normalized.encode("utf-8")
    cache_key = hmac.new(_seed_cache_key, password + b"\x00" + salt, hashlib.sha256).digest()
    with _seed_cache_lock:
        seed = _seed_cache.get(cache_key)
        if seed is not None:
            _seed_cache.move_to_end(cache_key)
            return seed
    seed = hashlib.pbkdf2_hmac("sha512", password, salt, 2048)
    with _seed_cache_lock:
        _seed_cache[cache_key] = seed
        while len(_seed_cache) > _SEED_CACHE_SIZE:
            _seed_cache.popitem(last=False)
    return seed


def clear_seed_cache() -> None:
    """Forget every cached BIP39 seed and BIP32 node (e.g. after rotating the mnemonic)."""
    with _seed_cache_lock:
        _seed_cache.clear()
        _node_cache.clear()


def mnemonic_to_seed(mnemonic: str, passphrase: str = "") -> bytes:
    """The 64-byte BIP39 seed; validates the mnemonic (checksum included)."""
    return _seed(mnemonic, passphrase)


# --------------------------------------------------------------------------- #
# SLIP-10 ed25519
# --------------------------------------------------------------------------- #


def slip10_ed25519_derive(seed: bytes, path: list[int]) -> tuple[bytes, bytes]:
    """SLIP-10 ed25519 derivation: ``(private_key, chain_code)`` for ``path``.

    ``path`` is a list of child numbers; ed25519 only supports hardened
    children, so every element must be ``>= 2**31``.
    """
    digest = hmac.new(b"ed25519 seed", seed, hashlib.sha512).digest()
    key, chain_code = digest[:32], digest[32:]
    for child in path:
        if not HARDENED <= child <= 0xFFFFFFFF:
            raise ValueError("SLIP-10 ed25519 only supports hardened derivation.")
        data = b"\x00" + key + child.to_bytes(4, "big")
        digest = hmac.new(chain_code, data, hashlib.sha512).digest()
        key, chain_code = digest[:32], digest[32:]
    return key, chain_code


def parse_path(path: str) -> list[int]:
    """Parse ``m/44'/501'/0'/0'`` into child numbers (``'`` or ``h`` = hardened)."""
    parts = path.split("/")
    if parts[0] != "m":
        raise ValueError(f"Derivation path must start with 'm': {path!r}.")
    result = []
    for part in parts[1:]:
        hardened = part.endswith(("'", "h", "H"))
        number = part[:-1] if hardened else part
        if not number.isdigit() or int(number) >= HARDENED:
            raise ValueError(f"Invalid derivation path component {part!r}.")
        result.append(int(number) + (HARDENED if hardened else 0))
    return result


# --------------------------------------------------------------------------- #
# Paths
# --------------------------------------------------------------------------- #


def _check_index(index: int) -> int:
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"index must be an int, not {type(index).__name__}.")
    if not 0 <= index <= MAX_INDEX:
        raise ValueError(f"index must be between 0 and {MAX_INDEX}, got {index}.")
    return index


def derivation_path(*, network: str, mode: str, index: int) -> str:
    """The derivation path used for ``(network, mode, index)`` (see module doc)."""
    net = get_network(network)
    check_mode(mode)
    _check_index(index)
    account = 0 if mode == "live" else 1
    coin = net.coin_type_for(mode)
    if net.family == "utxo":
        return f"m/84'/{coin}'/0'/0/{index}"
    if net.family in ("evm", "tron"):
        return f"m/44'/{coin}'/{account}'/0/{index}"
    if net.family == "solana":
        return f"m/44'/{coin}'/{index}'/{account}'"
    if net.family == "xrpl":
        return f"m/44'/{coin}'/{account}'/0/0"
    raise AssertionError(f"unhandled family {net.family}")  # pragma: no cover


def fee_payer_path(*, network: str, mode: str) -> str:
    """The operator's fee payer (gas account) of ``(network, mode)``: a path no deposit index
    reaches (its own account, or on Solana one more level). On the XRP Ledger the receiving
    account pays its own fees: it is the deposit path."""
    net = get_network(network)
    check_mode(mode)
    coin = net.coin_type_for(mode)
    account = 2 if mode == "live" else 3
    if net.family == "utxo":
        return f"m/84'/{coin}'/{account}'/0/0"
    if net.family in ("evm", "tron"):
        return f"m/44'/{coin}'/{account}'/0/0"
    if net.family == "solana":
        return f"m/44'/{coin}'/0'/{account}'/0'"
    if net.family == "xrpl":
        return derivation_path(network=network, mode=mode, index=0)
    raise AssertionError(f"unhandled family {net.family}")  # pragma: no cover


# --------------------------------------------------------------------------- #
# XRPL destination tags and X-addresses
# --------------------------------------------------------------------------- #


def _check_tag(tag: int) -> int:
    if isinstance(tag, bool) or not isinstance(tag, int):
        raise TypeError(f"destination tag must be an int, not {type(tag).__name__}.")
    if not 1 <= tag <= MAX_DESTINATION_TAG:
        raise ValueError(f"destination tag must be between 1 and {MAX_DESTINATION_TAG}, got {tag}.")
    return tag


def xrpl_destination_tag(index: int) -> int:
    """Destination tag assigned to deposit ``index`` on the XRP Ledger (``index + 1``)."""
    return _check_index(index) + 1


def xrpl_x_address(classic: str, tag: int, test: bool) -> str:
    """X-address encoding a classic address and destination tag (XLS-5)."""
    return classic_address_to_xaddress(classic, _check_tag(tag), bool(test))


def xrpl_parse_x_address(x_address: str) -> tuple[str, int | None, bool]:
    """Inverse of :func:`xrpl_x_address`: ``(classic, tag_or_None, is_test)``."""
    classic, tag, is_test = xaddress_to_classic_address(x_address)
    return classic, tag, is_test


# --------------------------------------------------------------------------- #
# Key derivation per family
# --------------------------------------------------------------------------- #


# --------------------------------------------------------------------------- #
# BIP32 on secp256k1, in libsecp256k1 (coincurve)
# --------------------------------------------------------------------------- #
#
# Every secp256k1 chain (UTXO, EVM, Tron, XRPL) derives its keys here. The curve arithmetic
# (a public key per non-hardened level and one for the address) runs in libsecp256k1 through
# coincurve, and eth-keys uses the same library (CoinCurveECCBackend); with the parent node
# cached (below) an address costs two public keys, about 0.1-0.2 ms, against 10 ms and more in
# the pure-Python and fastecdsa paths of eth-account and bitcoinlib (docs/benchmarks.md,
# "Address derivation"). The vectors in
# chains/tests/test_chains_derivation.py pin the results.

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_ECC_BACKEND = CoinCurveECCBackend()


def _secp256k1_public(secret: bytes) -> bytes:
    """The compressed SEC1 public key of a 32-byte secp256k1 private key."""
    return _Secp256k1PrivateKey(secret).public_key.format(compressed=True)


def bip32_master(seed: bytes) -> tuple[bytes, bytes]:
    """BIP32 master ``(private_key, chain_code)`` of a seed."""
    digest = hmac.new(b"Bitcoin seed", seed, hashlib.sha512).digest()
    key = int.from_bytes(digest[:32], "big")
    if not 0 < key < SECP256K1_ORDER:  # probability below 2**-127
        raise ValueError("This seed has no valid BIP32 master key.")
    return digest[:32], digest[32:]


def _bip32_child(key: bytes, chain_code: bytes, child: int, public: bytes | None = None) -> tuple[bytes, bytes]:
    """BIP32 CKDpriv: the child ``(private_key, chain_code)``; ``public`` is the parent's
    compressed public key when already known (a non-hardened child needs it)."""
    if not 0 <= child <= 0xFFFFFFFF:
        raise ValueError("A BIP32 child number is a 32-bit unsigned integer.")
    if child >= HARDENED:
        data = b"\x00" + key + child.to_bytes(4, "big")
    else:
        data = (public or _secp256k1_public(key)) + child.to_bytes(4, "big")
    digest = hmac.new(chain_code, data, hashlib.sha512).digest()
    tweak = int.from_bytes(digest[:32], "big")
    child_key = (tweak + int.from_bytes(key, "big")) % SECP256K1_ORDER
    if tweak >= SECP256K1_ORDER or child_key == 0:  # probability below 2**-127 (BIP32: skip it)
        raise ValueError("This derivation path has no valid key at one of its levels.")
    return child_key.to_bytes(32, "big"), digest[32:]


# The parent node of the last level (m/44'/60'/0'/0 for every EVM deposit index), with its
# public key, per (seed, parent path): deriving index i then costs one HMAC and one public key
# for the child's level instead of five levels. Kept like the seed cache: keyed by an HMAC
# under the per-process random key, never by the seed, and bounded.
_NODE_CACHE_SIZE = 64
_node_cache: OrderedDict[bytes, tuple[bytes, bytes, bytes]] = OrderedDict()


def _parent_node(seed: bytes, parent: list[int]) -> tuple[bytes, bytes, bytes]:
    cache_key = hmac.new(_seed_cache_key, seed + b"".join(c.to_bytes(4, "big") for c in parent),
                         hashlib.sha256).digest()
    with _seed_cache_lock:
        node = _node_cache.get(cache_key)
        if node is not None:
            _node_cache.move_to_end(cache_key)
            return node
    key, chain_code = bip32_master(seed)
    for child in parent:
        key, chain_code = _bip32_child(key, chain_code, child)
    node = (key, chain_code, _secp256k1_public(key))
    with _seed_cache_lock:
        _node_cache[cache_key] = node
        while len(_node_cache) > _NODE_CACHE_SIZE:
            _node_cache.popitem(last=False)
    return node


def bip32_derive(seed: bytes, path: list[int]) -> bytes:
    """The BIP32 (secp256k1) private key at ``path`` (child numbers, see parse_path)."""
    if not path:
        return bip32_master(seed)[0]
    key, chain_code, public = _parent_node(seed, path[:-1])
    return _bip32_child(key, chain_code, path[-1], public)[0]


def master_fingerprint(seed: bytes) -> str:
    """BIP32 master key fingerprint: hash160(master public key)[:4] as 8 lowercase hex digits."""
    public = _secp256k1_public(bip32_master(seed)[0])
    return hashlib.new("ripemd160", hashlib.sha256(public).digest()).digest()[:4].hex()


def _utxo_key(net: Network, mode: str, seed: bytes, path: str) -> tuple[str, bytes, bytes]:
    """BIP84: the P2WPKH (segwit v0) address of the key at ``path``."""
    private = bip32_derive(seed, parse_path(path))
    public = _secp256k1_public(private)
    program = hashlib.new("ripemd160", hashlib.sha256(public).digest()).digest()
    return encode_segwit(net.hrp_for(mode), 0, program), public, private


def _secp256k1_key(seed: bytes, path: str) -> tuple[eth_keys.PrivateKey, bytes]:
    private = bip32_derive(seed, parse_path(path))
    return eth_keys.PrivateKey(private, backend=_ECC_BACKEND), private


def _derive(
    *, mnemonic: str, passphrase: str, network: str, mode: str, index: int, path: str | None = None
) -> tuple[str, str, str, bytes, bytes]:
    """Returns ``(path, address, curve, public_key, secret)``."""
    net = get_network(network)
    path = path or derivation_path(network=net.label, mode=mode, index=index)
    seed = _seed(mnemonic, passphrase)
    if net.family == "utxo":
        address, public, secret = _utxo_key(net, mode, seed, path)
        return path, address, "secp256k1", public, secret
    if net.family == "solana":
        secret, _ = slip10_ed25519_derive(seed, parse_path(path))
        pubkey = Keypair.from_seed(secret).pubkey()
        return path, str(pubkey), "ed25519", bytes(pubkey), secret
    key, secret = _secp256k1_key(seed, path)
    public = key.public_key.to_compressed_bytes()
    if net.family == "evm":
        address = key.public_key.to_checksum_address()
    elif net.family == "tron":
        address = tron_address_from_account_id(key.public_key.to_canonical_address())
    else:  # xrpl
        address = derive_classic_address(public.hex().upper())
    return path, address, "secp256k1", public, secret


def derive_address(
    *, mnemonic: str, passphrase: str = "", network: str, mode: str, index: int
) -> DerivedAddress:
    """Public deposit address for ``(network, mode, index)``.

    For ``xrpl`` the address is the deployment's single account and
    ``destination_tag`` is set to :func:`xrpl_destination_tag` ``(index)``.
    """
    net = get_network(network)
    path, address, _, _, _ = _derive(
        mnemonic=mnemonic, passphrase=passphrase, network=net.label, mode=mode, index=index
    )
    tag = xrpl_destination_tag(index) if net.family == "xrpl" else None
    return DerivedAddress(
        network=net.label, mode=mode, index=index, path=path, address=address, destination_tag=tag
    )


def derive_addresses(
    *, mnemonic: str, passphrase: str = "", network: str, mode: str, indices: Sequence[int]
) -> list[str]:
    """``derive_address(...).address`` of each index, in order, for many indices at once (the
    deposit address pool's refill). The seed and the parent node of the last level are looked
    up once for the whole list; per EVM, TRON or UTXO address what remains is the last
    BIP32 level (one HMAC-SHA512 and one public key in libsecp256k1) and the address encoding,
    written straight on coincurve and keccak without eth-keys' key objects. Solana and the
    XRP Ledger go through derive_address one by one. chains/tests/test_chains_derivation.py
    checks that both give the same addresses."""
    net = get_network(network)
    if net.family not in ("evm", "tron", "utxo") or not indices:
        return [derive_address(mnemonic=mnemonic, passphrase=passphrase, network=net.label, mode=mode,
                               index=index).address for index in indices]
    for index in indices:
        _check_index(index)
    parent = parse_path(derivation_path(network=net.label, mode=mode, index=0))[:-1]
    key, chain_code, public = _parent_node(_seed(mnemonic, passphrase), parent)
    addresses = []
    if net.family == "utxo":
        hrp = net.hrp_for(mode)
        for index in indices:
            child = _Secp256k1PublicKey.from_secret(_bip32_child(key, chain_code, index, public)[0])
            program = hashlib.new("ripemd160", hashlib.sha256(child.format(compressed=True)).digest()).digest()
            addresses.append(encode_segwit(hrp, 0, program))
        return addresses
    encode = tron_address_from_account_id if net.family == "tron" else _eip55
    for index in indices:
        child = _Secp256k1PublicKey.from_secret(_bip32_child(key, chain_code, index, public)[0])
        addresses.append(encode(keccak(child.format(compressed=False)[1:])[-20:]))
    return addresses


def _eip55(account: bytes) -> str:
    """The EIP-55 mixed-case checksum form of a 20-byte account (what eth-utils'
    to_checksum_address returns, without its input normalisation)."""
    hexed = account.hex()
    digest = keccak(hexed.encode()).hex()
    return "0x" + "".join(c.upper() if d in "89abcdef" else c for c, d in zip(hexed, digest))


def derive_fee_payer_address(*, mnemonic: str, passphrase: str = "", network: str, mode: str) -> str:
    """The public address of :func:`fee_payer_path`."""
    net = get_network(network)
    _, address, _, _, _ = _derive(mnemonic=mnemonic, passphrase=passphrase, network=net.label, mode=mode,
                                  index=0, path=fee_payer_path(network=net.label, mode=mode))
    return address


def derive_signing_key(
    *, mnemonic: str, passphrase: str = "", network: str, mode: str, index: int, fee_payer: bool = False
) -> SigningKey:
    """Private key for the address :func:`derive_address` returns (for sweeping), or with
    ``fee_payer=True`` for the operator's fee payer (:func:`fee_payer_path`; index ignored).

    Returns a :class:`SigningKey`; use it in a ``with`` block so it is wiped.
    """
    net = get_network(network)
    path = fee_payer_path(network=net.label, mode=mode) if fee_payer else None
    path, address, curve, public, secret = _derive(
        mnemonic=mnemonic, passphrase=passphrase, network=net.label, mode=mode, index=index, path=path
    )
    return SigningKey(
        network=net.label,
        mode=mode,
        index=index,
        path=path,
        address=address,
        curve=curve,
        public_key=public,
        secret=secret,
    )
