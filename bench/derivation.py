"""Address derivation: CPU per deposit address, fluxa against a bare reference in the same run.

    bash bench/run_derivation.sh [--count 2000] [--rounds 3] [--refill 5000]

For each secp256k1 network family (EVM, Tron, BTC, LTC; XRPL and Solana for completeness), in
one process and alternating rounds:

- **fluxa**: `chains.derivation.derive_address` (the mnemonic's seed cached as in production,
  so each address is the BIP32 levels, the public key and the address encoding);
- **bare**: the same derivation written plainly straight on libsecp256k1 (coincurve): BIP32
  from the seed through every level for every address, the public key, the address hash
  (keccak / hash160) and encoding; no validation, no caching, no wrapping;
- **before**: the libraries fluxa used until now (eth-account's `key_from_seed` with eth-keys'
  native backend, bitcoinlib's `HDKey`), on fewer addresses, since each takes about 10 ms.

Every address of every side is checked equal to fluxa's. CPU is the process's
(`time.process_time`), so other work on the machine moves it less than wall time; the load
average is reported too. With `--refill N` (and DATABASE_URL, as bench/run_derivation.sh sets
up), the pool refill (`wallets.services.deposit_address_pool_replenish`: the counter lock, the
derivations and the bulk insert into PostgreSQL) fills N free addresses per network, and its
rate is compared with 10x the create-charge rate last written to docs/benchmarks.md.

The result replaces the "Address derivation" section of docs/benchmarks.md (between markers).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import hmac
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.report import write_section  # noqa: E402  (the repo root is on the path now)
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- derivation:begin -->", "<!-- derivation:end -->"
# The BIP39 test vector (Trezor's vectors.json): public, never for real funds.
MNEMONIC = "legal winner thank year wave sausage worth useful legal winner thank yellow"
NETWORKS = ["ethereum", "tron", "bitcoin", "litecoin", "xrpl", "solana"]

from coincurve import PrivateKey  # noqa: E402
from eth_utils import keccak, to_checksum_address  # noqa: E402

from chains import derivation  # noqa: E402
from chains.derivation import (  # noqa: E402
    derivation_path,
    derive_address,
    derive_addresses,
    mnemonic_to_seed,
    parse_path,
)
from chains.encoding import encode_segwit, tron_address_from_account_id  # noqa: E402
from chains.networks import get_network  # noqa: E402

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
NOTE_DERIVE = ('fluxa comes out below bare because it keeps the parent node of the last level (one level and two public keys per address), while bare derives all five levels from the seed each time; both do their curve arithmetic in libsecp256k1. Solana (ed25519 in solders) did not change. "Many at once" is `chains.derivation.derive_addresses` over the same indices, checked equal: the seed and parent node looked up once per call and the last level written straight on coincurve and keccak (no eth-keys key objects); Solana and XRPL go one by one there too.')
NOTE_REFILL = ("The refill reserves each round's indices (up to 500) from the counter in a short transaction of its "
               "own, derives them with no lock held (`chains.derivation.derive_addresses`: the seed and the parent node "
               "once, then one BIP32 level on libsecp256k1 and the encoding per address) and inserts them in one "
               "`INSERT ... SELECT FROM unnest(...)` and one durable commit, on a helper thread's connection while the "
               "next round is derived. Its process CPU, {low:.2f}-{high:.2f} ms per address, would allow about "
               "{slow:,.0f}-{fast:,.0f} addresses/s on a free core. PostgreSQL's CPU is not shown: the inserts run on the "
               "helper thread's own connection, whose backend process has exited by the end of the call.")


# --- the bare reference: plain BIP32 on libsecp256k1, from the seed every time -------------------


def bare_private(seed: bytes, path: list[int]) -> bytes:
    digest = hmac.new(b"Bitcoin seed", seed, hashlib.sha512).digest()
    key, chain = digest[:32], digest[32:]
    for child in path:
        if child >= 0x80000000:
            data = b"\x00" + key + child.to_bytes(4, "big")
        else:
            data = PrivateKey(key).public_key.format(compressed=True) + child.to_bytes(4, "big")
        digest = hmac.new(chain, data, hashlib.sha512).digest()
        key = ((int.from_bytes(digest[:32], "big") + int.from_bytes(key, "big")) % N).to_bytes(32, "big")
        chain = digest[32:]
    return key


def bare_address(seed: bytes, network: str, mode: str, index: int) -> str:
    net = get_network(network)
    path = parse_path(derivation_path(network=network, mode=mode, index=index))
    if net.family == "solana":
        from solders.keypair import Keypair

        secret, _ = derivation.slip10_ed25519_derive(seed, path)
        return str(Keypair.from_seed(secret).pubkey())
    key = PrivateKey(bare_private(seed, path))
    if net.family == "utxo":
        program = hashlib.new("ripemd160", hashlib.sha256(key.public_key.format(compressed=True)).digest()).digest()
        return encode_segwit(net.hrp_for(mode), 0, program)
    if net.family == "xrpl":
        from xrpl.core.keypairs import derive_classic_address

        return derive_classic_address(key.public_key.format(compressed=True).hex().upper())
    account = keccak(key.public_key.format(compressed=False)[1:])[-20:]
    if net.family == "tron":
        return tron_address_from_account_id(account)
    return to_checksum_address(account)


# --- before: the libraries' own derivation, as fluxa called them until now ------------------------


def before_address(seed: bytes, network: str, mode: str, index: int) -> str | None:
    net = get_network(network)
    path = derivation_path(network=network, mode=mode, index=index)
    if net.family == "utxo":
        from bitcoinlib.keys import HDKey

        return HDKey.from_seed(seed, network=net.bitcoinlib_network_for(mode),
                               witness_type="segwit").key_for_path(path).address()
    if net.family in ("evm", "tron"):
        from eth_account.hdaccount import key_from_seed
        from eth_keys import keys
        from eth_keys.backends import NativeECCBackend

        # eth-account builds its keys with eth-keys' default backend, coincurve once installed:
        # the environment variable eth-keys reads on every key puts the native one back.
        os.environ["ECC_BACKEND_CLASS"] = "eth_keys.backends.NativeECCBackend"
        try:
            private = key_from_seed(seed, path)
        finally:
            del os.environ["ECC_BACKEND_CLASS"]
        public = keys.PrivateKey(private, backend=NativeECCBackend()).public_key
        if net.family == "tron":
            return tron_address_from_account_id(public.to_canonical_address())
        return public.to_checksum_address()
    return None  # XRPL and Solana did not change


def _timed(fn, indices) -> tuple[float, list[str]]:
    started = time.process_time()
    out = [fn(i) for i in indices]
    return (time.process_time() - started) / len(indices), out


def measure(network: str, count: int, rounds: int, before_count: int) -> dict:
    seed = mnemonic_to_seed(MNEMONIC)
    mode = "live"
    sides = {
        "fluxa": lambda i: derive_address(mnemonic=MNEMONIC, network=network, mode=mode, index=i).address,
        "bare": lambda i: bare_address(seed, network, mode, i),
    }
    has_before = before_address(seed, network, mode, 0) is not None
    if has_before:
        sides["before"] = lambda i: before_address(seed, network, mode, i)
    for fn in sides.values():
        fn(0)  # imports, caches
    per: dict[str, list[float]] = {name: [] for name in sides}
    per["many"] = []
    for r in range(rounds):
        start = 1000 + r * count
        indices = range(start, start + count)
        expected = None
        for name, fn in sides.items():
            take = indices if name != "before" else range(start, start + before_count)
            cpu, out = _timed(fn, take)
            per[name].append(cpu)
            if expected is None:
                expected = out
            elif out != expected[: len(out)]:
                raise SystemExit(f"{network}: {name} derived other addresses than fluxa")
        started = time.process_time()
        out = derive_addresses(mnemonic=MNEMONIC, network=network, mode=mode, indices=indices)
        per["many"].append((time.process_time() - started) / len(indices))
        if out != expected:
            raise SystemExit(f"{network}: derive_addresses derived other addresses than fluxa")
    return {name: statistics.median(values) * 1000 for name, values in per.items()}


def refill(networks: list[str], size: int) -> dict[str, tuple[int, float, float]]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fluxa_site.settings")
    os.environ["FLUXA_WALLET_MNEMONIC"] = MNEMONIC
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from wallets import services
    from wallets.models import DepositAddress

    services.wallet_root_ensure()  # imports FLUXA_WALLET_MNEMONIC on first use, as a deployment does
    out = {}
    for network in networks:
        DepositAddress.objects.filter(network=network, mode="test").delete()
        started, cpu = time.monotonic(), time.process_time()
        created = services.deposit_address_pool_replenish(network=network, mode="test", size=size)
        out[network] = (created, time.monotonic() - started, time.process_time() - cpu)
    return out



def last_charge_rate() -> float | None:
    if not DOC.exists():
        return None
    match = re.search(r"- create-charge: (\d+) req/s against", DOC.read_text())
    return float(match.group(1)) if match else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000, help="addresses per side and round")
    parser.add_argument("--before-count", type=int, default=60, help="addresses per round of the old libraries")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--refill", type=int, default=0, help="fill this many pool addresses per network (needs DATABASE_URL)")
    parser.add_argument("--charge-rate", type=float, default=0,
                        help="the create-charge rate (req/s) the refill must keep up with 10x of; default: the "
                             "rate in docs/benchmarks.md's Results (a run on a busy machine can understate it)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    load_start = os.getloadavg()[0]
    started = time.monotonic()
    results = {}
    for network in NETWORKS:
        results[network] = measure(network, args.count, args.rounds, args.before_count)
        print(network, {k: round(v, 3) for k, v in results[network].items()}, flush=True)
    refilled = refill(["ethereum", "tron", "bitcoin"], args.refill) if args.refill else {}
    load_end = os.getloadavg()[0]
    elapsed = time.monotonic() - started

    lines = [
        BEGIN,
        "## Address derivation",
        "",
        f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores, "
        f"**shared with other engineers' work** (load average {load_start:.1f} at the start, {load_end:.1f} at "
        f"the end; {elapsed:.0f} s): `bash bench/run_derivation.sh --count {args.count} --rounds {args.rounds}"
        + (f" --refill {args.refill}" if args.refill else "")
        + (f" --charge-rate {args.charge_rate:g}" if args.charge_rate else "") + "` (bench/derivation.py). CPU time of this "
        "process per address (`time.process_time`), median of the rounds; the three sides alternate in each "
        f"round, {args.count} addresses per round for fluxa and bare, {args.before_count} for before, every "
        "address checked equal to fluxa's.",
        "",
        "- **fluxa**: `chains.derivation.derive_address`: BIP32 on libsecp256k1 (coincurve), the parent node "
        "of the last level cached per process, eth-keys on its coincurve backend.",
        "- **bare**: the same derivation written plainly on coincurve, every level from the seed for every "
        "address, no validation or wrapping.",
        "- **before**: the libraries fluxa used until this change (eth-account's `key_from_seed` with "
        "eth-keys' native backend; bitcoinlib's `HDKey`, on fastecdsa).",
        "",
        "| network | fluxa ms/address | bare ms/address | fluxa / bare | before ms/address | before / fluxa | target < 1 ms "
        "| fluxa, many at once (the refill's) ms/address |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for network, r in results.items():
        before = r.get("before")
        target = "met" if r["fluxa"] < 1 else "**missed**"
        if network == "solana":
            target = "(ed25519, unchanged)"
        lines.append(f"| {network} | {r['fluxa']:.3f} | {r['bare']:.3f} | {r['fluxa'] / r['bare']:.2f}x | "
                     + (f"{before:.2f} | {before / r['fluxa']:.0f}x" if before else "n/a | n/a")
                     + f" | {target} | {r['many']:.3f} |")
    lines += ["", NOTE_DERIVE]
    if refilled:
        rate = args.charge_rate or last_charge_rate()
        lines += ["", f"Pool refill (`deposit_address_pool_replenish`, test mode, PostgreSQL from bench/services.sh, "
                      f"{args.refill} free addresses per network from an empty pool; wall time of the call):", "",
                  "| network | addresses | seconds | addresses/s | refill process CPU ms/address | 10x create-charge" +
                  (f" ({rate:.0f} req/s" + (", given with --charge-rate" if args.charge_rate else " in docs/benchmarks.md") + ")"
                   if rate else "") + " |", "|---|---:|---:|---:|---:|---|"]
        for network, (created, seconds, cpu) in refilled.items():
            per_s = created / seconds
            verdict = "n/a" if not rate else ("kept up" if per_s >= 10 * rate else "**not kept up**")
            lines.append(f"| {network} | {created} | {seconds:.2f} | {per_s:.0f} | {cpu / created * 1000:.2f} | "
                         f"{verdict}{f' ({10 * rate:.0f}/s needed)' if rate else ''} |")
        cpus = [cpu / created * 1000 for created, _, cpu in refilled.values()]
        lines += ["", NOTE_REFILL.format(low=min(cpus), high=max(cpus), slow=1000 / max(cpus), fast=1000 / min(cpus))]
    lines.append(END)
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        write_section(DOC, BEGIN, END, section)
    return 0 if all(r["fluxa"] < 1 for n, r in results.items() if n != "solana") else 1


if __name__ == "__main__":
    sys.exit(main())
