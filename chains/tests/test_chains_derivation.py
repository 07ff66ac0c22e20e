"""Tests for chains.derivation against published vectors.

Sources of the vectors (all for the BIP39 test mnemonic "abandon x11 about"
unless noted):

* BIP39 seeds: BIP-0039 / Trezor reference vectors (passphrase "TREZOR"),
  as quoted in hashgraph/hedera-sdk-reference TestVectors.md; the empty
  passphrase seed is the one bip_utils' BIP84 tests use.
* BIP84 addresses, WIF private keys and public keys: the BIP-0084 spec test
  vectors (bitcoin/bips bip-0084.mediawiki).  Testnet m/84'/1'/0'/0/{0,1}:
  bip_utils' BIP84 test vector (Bitcoin testnet entry), also asserted by
  several wallets' test suites.
* Litecoin m/84'/2'/0'/0/{0,1}: Trust Wallet Core based wallet tests and
  other independent wallet test suites.
* EVM m/44'/60'/0'/0/{0,1} and the index-0 private/public key: published in
  MetaMask/ethers-compatible wallet test suites (also foundry `cast wallet`).
* TRON m/44'/195'/0'/0/{0,1}: Ledger TRON app test script ("Address match
  with test case") and several TronWeb-compatible wallet tests.
* Solana m/44'/501'/{0,1}'/0': solana-keygen / Phantom vectors quoted by
  several wallet test suites; m/44'/501'/0'/1' (our test-mode path for index
  0) is also a published vector.
* XRPL m/44'/144'/0'/0/0 and m/44'/144'/1'/0/0 (address and public key):
  xrpl.js ``Wallet.fromMnemonic`` vectors; classic address from public key:
  xrpl-py's own unit tests (tests/unit/core/keypairs/test_main.py).
* X-addresses: ripple-address-codec README vectors.
* SLIP-10 ed25519: the SLIP-0010 spec, test vector 1.
"""

from __future__ import annotations

import copy
import logging
import pickle

import pytest
from xrpl.core.keypairs import derive_classic_address

from chains.derivation import (
    MAX_INDEX,
    DerivedAddress,
    InvalidMnemonic,
    SigningKey,
    clear_seed_cache,
    derivation_path,
    derive_address,
    derive_addresses,
    derive_signing_key,
    generate_mnemonic,
    mnemonic_to_seed,
    parse_path,
    slip10_ed25519_derive,
    validate_mnemonic,
    xrpl_parse_x_address,
    xrpl_x_address,
)
from chains.networks import NETWORKS

MNEMONIC = (
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
)
EVM_LABELS = ["ethereum", "base", "bsc", "polygon", "arbitrum"]


def addr(network: str, mode: str = "live", index: int = 0, passphrase: str = "") -> str:
    return derive_address(
        mnemonic=MNEMONIC, passphrase=passphrase, network=network, mode=mode, index=index
    ).address


# --------------------------------------------------------------------------- BIP39


BIP39_TREZOR_VECTORS = [
    (
        MNEMONIC,
        "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f2cf141630c7a3c4ab7c81b2f001698e7463b04",
    ),
    (
        "legal winner thank year wave sausage worth useful legal winner thank yellow",
        "2e8905819b8723fe2c1d161860e5ee1830318dbf49a83bd451cfb8440c28bd6fa457fe1296106559a3c80937a1c1069be3a3a5bd381ee6260e8d9739fce1f607",
    ),
    (
        "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
        "d71de856f81a8acc65e6fc851a38d4d7ec216fd0796d0a6827a3ad6ed5511a30fa280f12eb2e47ed2ac03b5c462a0358d18d69fe4f985ec81778c1b370b652a8",
    ),
    (
        "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
        "ac27495480225222079d7be181583751e86f571027b0497b5b5d11218e0a8a13332572917f0f8e5a589620c6f15b11c61dee327651a14c34e18231052e48c069",
    ),
    (
        " ".join(["abandon"] * 23 + ["art"]),
        "bda85446c68413707090a52022edd26a1c9462295029f2e60cd7c4f2bbd3097170af7a4d73245cafa9c3cca8d561a7c3de6f5d4a10be8ed2a5e608d68f92fcc8",
    ),
]


@pytest.mark.parametrize("mnemonic,seed_hex", BIP39_TREZOR_VECTORS)
def test_bip39_seed_vectors_with_passphrase(mnemonic, seed_hex):
    assert validate_mnemonic(mnemonic)
    assert mnemonic_to_seed(mnemonic, "TREZOR").hex() == seed_hex


def test_bip39_seed_without_passphrase():
    assert mnemonic_to_seed(MNEMONIC).hex() == (
        "5eb00bbddcf069084889a8ab9155568165f5c453ccb85e70811aaed6f6da5fc1"
        "9a5ac40b389cd370d086206dec8aa6c43daea6690f20ad3d8d48b2d2ce9e38e4"
    )


def test_mnemonic_whitespace_and_case_are_normalized():
    messy = "  ABANDON abandon\tabandon " + "abandon " * 8 + " about\n"
    assert validate_mnemonic(messy)
    assert mnemonic_to_seed(messy) == mnemonic_to_seed(MNEMONIC)


def test_passphrase_changes_every_address():
    for label in ("bitcoin", "ethereum", "tron", "solana", "xrpl"):
        assert addr(label) != addr(label, passphrase="TREZOR")


@pytest.mark.parametrize(
    "bad",
    [
        " ".join(["abandon"] * 12),  # checksum mismatch
        " ".join(["abandon"] * 11),  # word count
        "abandon " * 11 + "aboutt",  # unknown word
        "",
        None,
        123,
    ],
)
def test_invalid_mnemonics(bad):
    assert validate_mnemonic(bad) is False
    with pytest.raises(InvalidMnemonic):
        derive_address(mnemonic=bad, network="bitcoin", mode="live", index=0)


def test_invalid_mnemonic_message_never_echoes_the_words():
    secretish = "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo"  # bad checksum
    with pytest.raises(InvalidMnemonic) as exc:
        derive_address(mnemonic=secretish, network="ethereum", mode="live", index=0)
    assert "zoo" not in str(exc.value)
    assert "checksum" in str(exc.value)
    with pytest.raises(InvalidMnemonic) as exc:
        derive_address(mnemonic="zoo " * 11 + "qwerty", network="ethereum", mode="live", index=0)
    assert "zoo" not in str(exc.value) and "qwerty" not in str(exc.value)


@pytest.mark.parametrize("strength,words", [(128, 12), (160, 15), (192, 18), (224, 21), (256, 24)])
def test_generate_mnemonic(strength, words):
    mnemonic = generate_mnemonic(strength)
    assert len(mnemonic.split()) == words
    assert validate_mnemonic(mnemonic)
    assert generate_mnemonic(strength) != mnemonic


def test_generate_mnemonic_default_is_24_words_and_rejects_bad_strength():
    assert len(generate_mnemonic().split()) == 24
    with pytest.raises(ValueError):
        generate_mnemonic(100)


def test_seed_is_cached_and_cache_can_be_cleared():
    clear_seed_cache()
    first = mnemonic_to_seed(MNEMONIC)
    assert mnemonic_to_seed(MNEMONIC) is first
    clear_seed_cache()
    again = mnemonic_to_seed(MNEMONIC)
    assert again == first and again is not first


def test_seed_cache_keys_do_not_contain_the_mnemonic():
    from chains import derivation

    mnemonic_to_seed(MNEMONIC)
    for key in derivation._seed_cache:
        assert b"abandon" not in key and len(key) == 32


# --------------------------------------------------------------------------- BIP84


@pytest.mark.parametrize("label", sorted(NETWORKS))
@pytest.mark.parametrize("mode", ["live", "test"])
def test_many_addresses_at_once_are_the_addresses_one_by_one(label, mode):
    """derive_addresses (the pool refill's, which skips eth-keys' key objects) against
    derive_address, which the vectors above pin, on every network, both modes, the edges."""
    indices = [0, 1, 2, 7, 100, 1000, 65_535, 1_000_003, MAX_INDEX]
    assert derive_addresses(mnemonic=MNEMONIC, network=label, mode=mode, indices=indices) == [
        derive_address(mnemonic=MNEMONIC, network=label, mode=mode, index=i).address for i in indices]
    assert derive_addresses(mnemonic=MNEMONIC, network=label, mode=mode, indices=range(5, 5)) == []


@pytest.mark.parametrize("bad", [-1, MAX_INDEX + 1])
def test_many_addresses_refuse_an_index_out_of_range(bad):
    with pytest.raises(ValueError):
        derive_addresses(mnemonic=MNEMONIC, network="tron", mode="live", indices=[0, bad])


def test_bip84_bitcoin_mainnet_spec_vectors():
    assert addr("bitcoin", index=0) == "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
    assert addr("bitcoin", index=1) == "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"


def test_bip84_bitcoin_testnet_vectors():
    assert addr("bitcoin", "test", 0) == "tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl"
    assert addr("bitcoin", "test", 1) == "tb1qd7spv5q28348xl4myc8zmh983w5jx32cjhkn97"


def test_bip84_litecoin_vectors():
    assert addr("litecoin", index=0) == "ltc1qjmxnz78nmc8nq77wuxh25n2es7rzm5c2rkk4wh"
    assert addr("litecoin", index=1) == "ltc1qwlezpr3890hcp6vva9twqh27mr6edadreqvhnn"


def test_litecoin_testnet_uses_coin_type_1_and_tltc_prefix():
    test_ltc = addr("litecoin", "test", 0)
    assert test_ltc.startswith("tltc1q")
    # Same key as bitcoin testnet (coin type 1): identical witness program.
    from chains.encoding import decode_segwit

    assert decode_segwit(test_ltc).program == decode_segwit(addr("bitcoin", "test", 0)).program


def test_bip84_signing_keys_match_spec_wif_and_pubkeys():
    with derive_signing_key(mnemonic=MNEMONIC, network="bitcoin", mode="live", index=0) as key:
        assert key.wif() == "KyZpNDKnfs94vbrwhJneDi77V6jF64PWPF8x5cdJb8ifgg2DUc9d"
        assert (
            key.public_key_hex
            == "0330d54fd0dd420a6e5f8d3624f5f3482cae350f79d5f0753bf5beef9c2d91af3c"
        )
        assert key.address == "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
    with derive_signing_key(mnemonic=MNEMONIC, network="bitcoin", mode="live", index=1) as key:
        assert key.wif() == "Kxpf5b8p3qX56DKEe5NqWbNUP9MnqoRFzZwHRtsFqhzuvUJsYZCy"
        assert (
            key.public_key_hex
            == "03e775fd51f0dfb8cd865d9ff1cca2a158cf651fe997fdc9fee9c1d3b5e995ea77"
        )


# --------------------------------------------------------------------------- EVM


@pytest.mark.parametrize("label", EVM_LABELS)
def test_evm_vectors_same_on_every_chain(label):
    assert addr(label, index=0) == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
    assert addr(label, index=1) == "0x6Fac4D18c912343BF86fa7049364Dd4E424Ab9C0"


def test_evm_signing_key_vector():
    with derive_signing_key(mnemonic=MNEMONIC, network="ethereum", mode="live", index=0) as key:
        assert key.secret_bytes().hex() == (
            "1ab42cc412b618bdea3a599e3c9bae199ebf030895b039e9db1e30dafb12b727"
        )
        assert (
            key.public_key_hex
            == "0237b0bb7a8288d38ed49a524b5dc98cff3eb5ca824c9f9dc0dfdb3d9cd600f299"
        )
        assert key.eth_account().address == "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"


def test_evm_test_mode_uses_account_one():
    test0 = derive_address(mnemonic=MNEMONIC, network="ethereum", mode="test", index=0)
    assert test0.path == "m/44'/60'/1'/0/0"
    assert test0.address not in {addr("ethereum", index=i) for i in range(5)}
    assert test0.address == addr("base", "test", 0)


# --------------------------------------------------------------------------- TRON


def test_tron_vectors():
    assert addr("tron", index=0) == "TUEZSdKsoDHQMeZwihtdoBiN46zxhGWYdH"
    assert addr("tron", index=1) == "TSeJkUh4Qv67VNFwY8LaAxERygNdy6NQZK"


def test_tron_test_mode_is_separate():
    test0 = derive_address(mnemonic=MNEMONIC, network="tron", mode="test", index=0)
    assert test0.path == "m/44'/195'/1'/0/0"
    assert test0.address.startswith("T")
    assert test0.address not in {addr("tron", index=i) for i in range(5)}


# --------------------------------------------------------------------------- Solana


def test_slip10_ed25519_spec_vector_1():
    seed = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
    key, chain = slip10_ed25519_derive(seed, [])
    assert key.hex() == "2b4be7f19ee27bbf30c667b642d5f4aa69fd169872f8fc3059c08ebae2eb19e7"
    assert chain.hex() == "90046a93de5380a72b5e45010748567d5ea02bbf6522f979e05c0d8d8ca9fffb"
    key, chain = slip10_ed25519_derive(seed, parse_path("m/0'"))
    assert key.hex() == "68e0fe46dfb67e368c75379acec591dad19df3cde26e63b93a8e704f1dade7a3"
    assert chain.hex() == "8b59aa11380b624e81507a27fedda59fea6d0b779a778918a2fd3590e16e9c69"
    key, chain = slip10_ed25519_derive(seed, parse_path("m/0'/1'"))
    assert key.hex() == "b1d0bad404bf35da785a64ca1ac54b2617211d2777696fbffaf208f746ae84f2"
    assert chain.hex() == "a320425f77d1b5c2505a6b1b27382b37368ee640e3557c315416801243552f14"
    key, _ = slip10_ed25519_derive(seed, parse_path("m/0'/1'/2'"))
    assert key.hex() == "92a5b23c0b8a99e37d07df3fb9966917f5d06e02ddbd909c7e184371463e9fc9"
    key, _ = slip10_ed25519_derive(seed, parse_path("m/0h/1h/2h/2h"))
    assert key.hex() == "30d1dc7e5fc04c31219ab25a27ae00b50f6fd66622f6e9c913253d6511d1e662"


def test_slip10_refuses_non_hardened():
    with pytest.raises(ValueError):
        slip10_ed25519_derive(b"\x00" * 16, parse_path("m/44'/501'/0"))


def test_solana_vectors():
    assert addr("solana", index=0) == "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk"
    assert addr("solana", index=1) == "Hh8QwFUA6MtVu1qAoq12ucvFHNwCcVTV7hpWjeY1Hztb"


def test_solana_test_mode_path_and_vector():
    test0 = derive_address(mnemonic=MNEMONIC, network="solana", mode="test", index=0)
    assert test0.path == "m/44'/501'/0'/1'"
    assert test0.address == "GKreMsHvt8A79VApjboYDq3J4ZCXSJRYYQk9BscMbi1H"


def test_solana_matches_solders_own_derivation():
    """Independent cross-check: solders' built-in SLIP-10 path derivation."""
    from solders.keypair import Keypair

    seed = mnemonic_to_seed(MNEMONIC)
    for mode, index in [("live", 0), ("live", 7), ("test", 3)]:
        path = derivation_path(network="solana", mode=mode, index=index)
        expected = str(Keypair.from_seed_and_derivation_path(seed, path).pubkey())
        assert addr("solana", mode, index) == expected


def test_solana_signing_key():
    with derive_signing_key(mnemonic=MNEMONIC, network="solana", mode="live", index=0) as key:
        keypair = key.solana_keypair()
        assert str(keypair.pubkey()) == "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk"
        assert key.curve == "ed25519"
        assert bytes(keypair.pubkey()).hex() == key.public_key_hex


# --------------------------------------------------------------------------- XRPL


def test_xrpl_classic_address_from_public_key_xrpl_py_vector():
    assert (
        derive_classic_address("030D58EB48B4420B1F7B9DF55087E0E29FEF0E8468F9A6825B01CA2C361042D435")
        == "rU6K7V3Po4snVhBBaU29sesqs2qTQJWDw1"
    )


def test_xrpl_live_account_vector():
    derived = derive_address(mnemonic=MNEMONIC, network="xrpl", mode="live", index=0)
    assert derived.path == "m/44'/144'/0'/0/0"
    assert derived.address == "rHsMGQEkVNJmpGWs8XUBoTBiAAbwxZN5v3"
    assert derived.destination_tag == 1
    with derive_signing_key(mnemonic=MNEMONIC, network="xrpl", mode="live", index=0) as key:
        assert (
            key.public_key_hex
            == "031d68bc1a142e6766b2bdfb006ccfe135ef2e0e2e94abb5cf5c9ab6104776fbae"
        )
        assert key.xrpl_wallet().classic_address == "rHsMGQEkVNJmpGWs8XUBoTBiAAbwxZN5v3"


def test_xrpl_test_account_vector():
    derived = derive_address(mnemonic=MNEMONIC, network="xrpl", mode="test", index=0)
    assert derived.path == "m/44'/144'/1'/0/0"
    assert derived.address == "rNAB7uPziNwZAkdzyeo6xRA9pKTsJxZ6td"


def test_xrpl_one_account_many_tags():
    derived = [
        derive_address(mnemonic=MNEMONIC, network="xrpl", mode="live", index=i) for i in range(4)
    ]
    assert {d.address for d in derived} == {"rHsMGQEkVNJmpGWs8XUBoTBiAAbwxZN5v3"}
    assert [d.destination_tag for d in derived] == [1, 2, 3, 4]
    assert (
        derive_address(
            mnemonic=MNEMONIC, network="xrpl", mode="live", index=MAX_INDEX
        ).destination_tag
        == 2**31
    )


# Published ripple-address-codec vectors.
X_ADDRESS_VECTORS = [
    (
        "rGWrZyQqhTp9Xu7G5Pkayo7bXjH4k4QYpf",
        4294967295,
        False,
        "XVLhHMPHU98es4dbozjVtdWzVrDjtV18pX8yuPT7y4xaEHi",
    ),
    (
        "r3SVzk8ApofDJuVBPKdmbbLjWGCCXpBQ2g",
        123,
        True,
        "T7oKJ3q7s94kDH6tpkBowhetT1JKfcfdSCmAXbS75iATyLD",
    ),
]


@pytest.mark.parametrize("classic,tag,test,expected", X_ADDRESS_VECTORS)
def test_xrpl_x_address_vectors_round_trip(classic, tag, test, expected):
    assert xrpl_x_address(classic, tag, test) == expected
    assert xrpl_parse_x_address(expected) == (classic, tag, test)


def test_xrpl_x_address_round_trip_for_derived_account():
    derived = derive_address(mnemonic=MNEMONIC, network="xrpl", mode="test", index=99)
    x_address = derived.xrpl_x_address
    assert x_address.startswith("T")
    assert xrpl_parse_x_address(x_address) == (derived.address, 100, True)


@pytest.mark.parametrize("tag", [0, -1, 2**32, True, "5"])
def test_xrpl_x_address_rejects_bad_tags(tag):
    with pytest.raises((ValueError, TypeError)):
        xrpl_x_address("rHsMGQEkVNJmpGWs8XUBoTBiAAbwxZN5v3", tag, False)


def test_non_xrpl_addresses_have_no_x_address():
    with pytest.raises(ValueError):
        _ = derive_address(
            mnemonic=MNEMONIC, network="bitcoin", mode="live", index=0
        ).xrpl_x_address


# --------------------------------------------------------------------------- paths & args


@pytest.mark.parametrize(
    "network,mode,index,path",
    [
        ("bitcoin", "live", 5, "m/84'/0'/0'/0/5"),
        ("bitcoin", "test", 5, "m/84'/1'/0'/0/5"),
        ("litecoin", "live", 5, "m/84'/2'/0'/0/5"),
        ("litecoin", "test", 5, "m/84'/1'/0'/0/5"),
        ("polygon", "live", 5, "m/44'/60'/0'/0/5"),
        ("arbitrum", "test", 5, "m/44'/60'/1'/0/5"),
        ("tron", "live", 5, "m/44'/195'/0'/0/5"),
        ("tron", "test", 5, "m/44'/195'/1'/0/5"),
        ("solana", "live", 5, "m/44'/501'/5'/0'"),
        ("solana", "test", 5, "m/44'/501'/5'/1'"),
        ("xrpl", "live", 5, "m/44'/144'/0'/0/0"),
        ("xrpl", "test", 5, "m/44'/144'/1'/0/0"),
    ],
)
def test_derivation_paths(network, mode, index, path):
    assert derivation_path(network=network, mode=mode, index=index) == path
    if network != "xrpl":
        assert (
            derive_address(mnemonic=MNEMONIC, network=network, mode=mode, index=index).path == path
        )


@pytest.mark.parametrize("label", sorted(NETWORKS))
def test_live_and_test_never_share_addresses(label):
    live = {addr(label, "live", i) for i in range(3)}
    test = {addr(label, "test", i) for i in range(3)}
    assert not live & test


@pytest.mark.parametrize("label", sorted(set(NETWORKS) - {"xrpl"}))
def test_indexes_give_distinct_addresses(label):
    assert len({addr(label, "live", i) for i in range(5)}) == 5


@pytest.mark.parametrize("index", [-1, MAX_INDEX + 1, 1.0, True, "0", None])
def test_bad_index(index):
    with pytest.raises((ValueError, TypeError)):
        derive_address(mnemonic=MNEMONIC, network="bitcoin", mode="live", index=index)


def test_bad_network_and_mode():
    with pytest.raises(ValueError):
        derive_address(mnemonic=MNEMONIC, network="dogecoin", mode="live", index=0)
    with pytest.raises(ValueError):
        derive_address(mnemonic=MNEMONIC, network="bitcoin", mode="mainnet", index=0)


def test_max_index_derives():
    assert derive_address(
        mnemonic=MNEMONIC, network="bitcoin", mode="live", index=MAX_INDEX
    ).path.endswith(f"/{MAX_INDEX}")
    assert derive_address(mnemonic=MNEMONIC, network="solana", mode="live", index=MAX_INDEX).address


def test_parse_path():
    assert parse_path("m/44'/60'/0'/0/1") == [2**31 + 44, 2**31 + 60, 2**31, 0, 1]
    for bad in ("44'/0", "m/x", "m/2147483648", "m/-1"):
        with pytest.raises(ValueError):
            parse_path(bad)


def test_signing_key_matches_derive_address_everywhere():
    for label in sorted(NETWORKS):
        for mode in ("live", "test"):
            public = derive_address(mnemonic=MNEMONIC, network=label, mode=mode, index=2)
            with derive_signing_key(mnemonic=MNEMONIC, network=label, mode=mode, index=2) as key:
                assert (key.network, key.mode, key.index, key.path, key.address) == (
                    public.network,
                    public.mode,
                    public.index,
                    public.path,
                    public.address,
                )
                assert len(key.secret_bytes()) == 32


def test_derived_address_is_plain_public_data():
    derived = derive_address(mnemonic=MNEMONIC, network="bitcoin", mode="live", index=0)
    assert isinstance(derived, DerivedAddress)
    assert pickle.loads(pickle.dumps(derived)) == derived


# --------------------------------------------------------------------------- secrets hygiene


@pytest.mark.parametrize("label", sorted(NETWORKS))
def test_signing_key_repr_never_shows_private_material(label):
    key = derive_signing_key(mnemonic=MNEMONIC, network=label, mode="live", index=0)
    secret = key.secret_bytes()
    forms = [repr(key), str(key), f"{key}", f"{key!r}", "{}".format(key)]  # noqa: UP032
    forbidden = [secret.hex(), secret.hex().upper(), "abandon", mnemonic_to_seed(MNEMONIC).hex()]
    if label in ("bitcoin", "litecoin"):
        forbidden.append(key.wif())
    for text in forms:
        for bad in forbidden:
            assert bad not in text
        assert "redacted" in text
    assert key.address in repr(key)
    assert not hasattr(key, "__dict__")


def test_signing_key_cannot_be_pickled_or_copied():
    key = derive_signing_key(mnemonic=MNEMONIC, network="ethereum", mode="live", index=0)
    with pytest.raises(TypeError):
        pickle.dumps(key)
    with pytest.raises(TypeError):
        copy.copy(key)
    with pytest.raises(TypeError):
        copy.deepcopy(key)


def test_signing_key_wipe():
    with derive_signing_key(mnemonic=MNEMONIC, network="ethereum", mode="live", index=0) as key:
        buffer = key._secret
        assert any(buffer)
    assert not any(buffer)  # zeroed in place
    assert "wiped" in repr(key)
    with pytest.raises(ValueError):
        key.secret_bytes()
    with pytest.raises(ValueError):
        key.eth_account()


def test_signing_key_helpers_check_family():
    with derive_signing_key(mnemonic=MNEMONIC, network="tron", mode="live", index=0) as key:
        for helper in (key.eth_account, key.solana_keypair, key.wif, key.xrpl_wallet):
            with pytest.raises(ValueError):
                helper()
    with derive_signing_key(mnemonic=MNEMONIC, network="bitcoin", mode="test", index=0) as key:
        assert key.wif()[0] == "c"  # testnet compressed WIF
        with pytest.raises(ValueError):
            key.eth_account()


def test_no_secret_reaches_the_logs(caplog):
    clear_seed_cache()
    with caplog.at_level(logging.DEBUG):
        secrets = [mnemonic_to_seed(MNEMONIC).hex()]
        for label in sorted(NETWORKS):
            derive_address(mnemonic=MNEMONIC, network=label, mode="live", index=0)
            with derive_signing_key(mnemonic=MNEMONIC, network=label, mode="live", index=0) as key:
                secrets.append(key.secret_bytes().hex())
        try:
            derive_address(mnemonic="zoo " * 12, network="bitcoin", mode="live", index=0)
        except InvalidMnemonic:
            pass
    text = caplog.text.lower()
    assert "abandon" not in text and "zoo" not in text
    for secret in secrets:
        assert secret not in text


def test_signing_key_type_is_exported():
    assert SigningKey.__slots__
