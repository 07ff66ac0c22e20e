"""chains.derivation's BIP32 on libsecp256k1 (coincurve) against the BIP32 spec's vectors and
against the independent implementations it replaced (bitcoinlib's HDKey, eth-account's
key_from_seed), on paths and seeds of every shape the deposit addresses use."""

from __future__ import annotations

import secrets

import pytest
from bitcoinlib.keys import HDKey
from eth_account.hdaccount import key_from_seed

from chains import derivation
from chains.derivation import bip32_derive, clear_seed_cache, master_fingerprint, parse_path

# BIP32 test vector 1 (bitcoin/bips bip-0032.mediawiki): seed 000102...0f.
SEED_1 = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
VECTOR_1 = [
    ("m", "e8f32e723decf4051aefac8e2c93c9c5b214313817cdb01a1494b917c8436b35"),
    ("m/0'", "edb2e14f9ee77d26dd93b4ecede8d16ed408ce149b6cd80b0715a2d911a0afea"),
    ("m/0'/1", "3c6cb8d0f6a264c91ea8b5030fadaa8e538b020f0a387421a12de9319dc93368"),
    ("m/0'/1/2'", "cbce0d719ecf7431d88e6a89fa1483e02e35092af60c042b1df2ff59fa424dca"),
    ("m/0'/1/2'/2", "0f479245fb19a38a1954c5c7c0ebab2f9bdfd96a17563ef28a6a4b1a2a764ef4"),
    ("m/0'/1/2'/2/1000000000", "471b76e389e528d6de6d816857e012c5455051cad6660850e58372a6c3e6e7c8"),
]


@pytest.mark.parametrize("path, private_hex", VECTOR_1)
def test_bip32_spec_vector_1(path, private_hex):
    assert bip32_derive(SEED_1, parse_path(path)).hex() == private_hex


def test_master_fingerprint_of_the_spec_vector():
    assert master_fingerprint(SEED_1) == "3442193e"  # vector 1's m/0' parent fingerprint


PATHS = ["m/84'/0'/0'/0/0", "m/84'/1'/0'/0/7", "m/84'/2'/0'/0/2147483647", "m/44'/60'/0'/0/0",
         "m/44'/60'/1'/0/12345", "m/44'/195'/0'/0/3", "m/44'/144'/1'/0/0", "m/44'/60'/2'/0/0", "m/0/1/2/3",
         "m/5'"]


@pytest.mark.parametrize("path", PATHS)
def test_agrees_with_bitcoinlib_and_eth_account_on_random_seeds(path):
    for _ in range(3):
        seed = secrets.token_bytes(64)
        ours = bip32_derive(seed, parse_path(path))
        assert ours == HDKey.from_seed(seed).subkey_for_path(path).private_byte
        assert ours == key_from_seed(seed, path)
        assert master_fingerprint(seed) == HDKey.from_seed(seed).fingerprint.hex()


def test_the_parent_cache_gives_the_same_keys_and_is_cleared_with_the_seeds():
    seed = secrets.token_bytes(64)
    first = [bip32_derive(seed, parse_path(f"m/44'/60'/0'/0/{i}")) for i in range(3)]
    assert derivation._node_cache  # the parent m/44'/60'/0'/0 is kept
    assert all(seed not in key for key in derivation._node_cache)  # keyed by an HMAC, not the seed
    clear_seed_cache()
    assert not derivation._node_cache
    assert [bip32_derive(seed, parse_path(f"m/44'/60'/0'/0/{i}")) for i in range(3)] == first


def test_evm_keys_use_the_compiled_backend():
    from eth_keys.backends import CoinCurveECCBackend

    key, _ = derivation._secp256k1_key(secrets.token_bytes(64), "m/44'/60'/0'/0/0")
    assert isinstance(key.backend, CoinCurveECCBackend)
