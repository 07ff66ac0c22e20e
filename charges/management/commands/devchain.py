"""Local chains for development (docs/chains.md, "Local chains for development").

    manage.py devchain                  # start anvil + regtest litecoind, in the foreground
    manage.py devchain --no-litecoin    # anvil only
    manage.py devchain env              # the FLUXA_CHAINS of the running devchain
    manage.py devchain pay ORDER_ID [--amount 1.5]   # pay a test order for real

`devchain` starts anvil (chain id 11155111, Sepolia's, which fluxa's test mode expects of
ethereum; a block every --block-time seconds) and litecoind in regtest (a block every
--ltc-block-seconds, mined by this command), deploys the test stablecoin
(testing/artifacts/TestStablecoin.json, 6 decimals) from anvil's first dev account, mints it a
million, writes its address into the channel catalogue's `token_contract_test` of the
--token-channel (usdt_erc20), resets fluxa's test-mode scan cursors of both networks (every
start is a fresh chain), and writes <data>/devchain/env.json with the FLUXA_CHAINS that points
fluxa at them (`make run DEVCHAIN=1` reads it). Ctrl-C or SIGTERM stops both nodes.

Self-contained on purpose: production code does not import testing/ (tests/test_layout.py);
only the compiled token's JSON is read from there.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from base64 import b64encode
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from eth_utils import to_checksum_address

from chains.encoding import decode_segwit, encode_segwit
from chains.networks import get_network
from core.modes import Mode

ROOT = Path(settings.BASE_DIR)
TOKEN_ARTIFACT = ROOT / "testing" / "artifacts" / "TestStablecoin.json"
EVM_NETWORK = "ethereum"
UTXO_NETWORK = "litecoin"
REGTEST_HRP = "rltc"
RPC_USER = "fluxa"
LTC_WALLET = "dev"
MWEB_HEIGHT = 432  # Litecoin Core 0.21's regtest activation height of MWEB
# anvil's first default account (mnemonic "test test ... junk"): public, test money only.
DEV_ACCOUNT = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
TOKEN_MINT_UNITS = 10**12  # 1,000,000 at 6 decimals
SELECTOR_TRANSFER = "a9059cbb"  # transfer(address,uint256)
SELECTOR_MINT = "40c10f19"      # mint(address,uint256)
_ids = itertools.count(1)


class NodeError(RuntimeError):
    pass


def devchain_dir() -> Path:
    return Path(settings.DATA_DIR) / "devchain"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rpc(url: str, method: str, params: list | tuple = (), *, auth: tuple[str, str] | None = None,
        timeout: float = 30.0) -> Any:
    """One JSON-RPC call (anvil's 2.0 or bitcoind's 1.0 answer alike); numbers as Decimal."""
    body = json.dumps({"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": list(params)},
                      default=str).encode()
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = "Basic " + b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:  # bitcoind answers RPC errors with HTTP 500/404
        raw = error.read()
        if not raw:
            raise NodeError(f"{method}: HTTP {error.code}") from error
    answer = json.loads(raw, parse_float=Decimal)
    if answer.get("error"):
        raise NodeError(f"{method}: {answer['error']}")
    return answer["result"]


def anvil_bin() -> str:
    """FLUXA_ANVIL_BIN, else the anvil scripts/nodes.sh installs into .nodes/, else PATH."""
    machine = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), platform.machine())
    candidates = [os.environ.get("FLUXA_ANVIL_BIN", ""),
                  str(ROOT / ".nodes" / "node_modules" / "@foundry-rs" /
                      f"anvil-{platform.system().lower()}-{machine}" / "bin" / "anvil"),
                  shutil.which("anvil") or ""]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    raise CommandError("anvil not found: run `bash scripts/nodes.sh` (installs it into .nodes/) "
                       "or set FLUXA_ANVIL_BIN")


def litecoind_bin() -> str:
    path = os.environ.get("FLUXA_LITECOIND_BIN", "") or shutil.which("litecoind") or ""
    if not path or not os.access(path, os.X_OK):
        raise CommandError("litecoind not found: `sudo apt-get install litecoind` (or `bash scripts/nodes.sh`), "
                           "or pass --no-litecoin")
    return path


def _wait(check, *, what: str, process: subprocess.Popen, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise CommandError(f"{what} exited with {process.returncode} while starting")
        try:
            result = check()
            if result is not None:
                return result
        except (OSError, NodeError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise CommandError(f"{what} did not answer within {timeout:.0f} s")
        time.sleep(0.1)


def _receipt(url: str, tx_hash: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        receipt = rpc(url, "eth_getTransactionReceipt", [tx_hash])
        if receipt:
            if receipt.get("status") != "0x1":
                raise CommandError(f"transaction {tx_hash} failed: {receipt}")
            return receipt
        time.sleep(0.2)
    raise CommandError(f"transaction {tx_hash} was not mined within {timeout:.0f} s")


def _word(value: int | str) -> str:
    if isinstance(value, str):
        value = int(value, 16)
    return format(value, "064x")


def regtest_address(address: str) -> str:
    """The rltc1 form of a segwit address (fluxa's test mode hands out tltc1): the same witness
    program, so the same output script, which a regtest node's sendtoaddress accepts."""
    decoded = decode_segwit(address)
    return encode_segwit(REGTEST_HRP, decoded.version, decoded.program)


def load_state() -> dict:
    path = devchain_dir() / "state.json"
    if not path.exists():
        raise CommandError(f"No devchain is running ({path} missing): start `manage.py devchain` "
                           "or `make run DEVCHAIN=1` first")
    return json.loads(path.read_text())


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    os.replace(tmp, path)


class Command(BaseCommand):
    help = "Start local anvil + regtest litecoind for fluxa's test mode, or pay a test order on them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("action", nargs="?", default="start", choices=["start", "env", "pay"])
        parser.add_argument("order_id", nargs="?", help="pay: the order to pay")
        parser.add_argument("--amount", help="pay: in the order's asset (default: what is still due)")
        parser.add_argument("--anvil-port", type=int, default=8545, help="0: a free port")
        parser.add_argument("--litecoin-port", type=int, default=19443, help="0: a free port")
        parser.add_argument("--no-litecoin", action="store_true")
        parser.add_argument("--block-time", type=float, default=1.0, help="anvil: seconds between blocks")
        parser.add_argument("--ltc-block-seconds", type=float, default=5.0, help="litecoind: seconds between blocks")
        parser.add_argument("--token-channel", default="usdt_erc20",
                            help="the channel whose token_contract_test becomes the deployed test token")

    def handle(self, *args, **options) -> None:
        action = options["action"]
        if action == "pay":
            if not options["order_id"]:
                raise CommandError("pay needs an ORDER_ID")
            self.stdout.write(self.pay(options["order_id"], options["amount"]))
        elif action == "env":
            self.stdout.write(f"export FLUXA_CHAINS='{load_state()['FLUXA_CHAINS']}'")
        else:
            self.start(options)

    # -- start -----------------------------------------------------------------------------
    def start(self, options) -> None:
        folder = devchain_dir()
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("env.json", "state.json"):
            (folder / name).unlink(missing_ok=True)
        processes: list[subprocess.Popen] = []
        stopping = False

        def _on_signal(signum, frame) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
        try:
            chains: dict[str, dict[str, str]] = {}
            state: dict[str, Any] = {}
            anvil_url, token = self._start_anvil(options, folder, processes)
            chains[EVM_NETWORK] = {Mode.TEST: anvil_url}
            state.update(anvil_url=anvil_url, token_contract=token, token_channel=options["token_channel"],
                         evm_account=DEV_ACCOUNT)
            ltc = None
            if not options["no_litecoin"]:
                ltc = self._start_litecoind(options, folder, processes)
                chains[UTXO_NETWORK] = {Mode.TEST: ltc["url"]}
                state.update(litecoin_rpc=ltc["rpc"], litecoin_user=RPC_USER, litecoin_password=ltc["password"],
                             litecoin_mining_address=ltc["mining_address"])
            self._point_fluxa_at(chains, token, options["token_channel"])
            state["FLUXA_CHAINS"] = json.dumps(chains)
            _write_private(folder / "state.json", json.dumps(state, indent=2))
            _write_private(folder / "env.json", json.dumps({"FLUXA_CHAINS": state["FLUXA_CHAINS"]}))
            self._print_ready(state, ltc is not None)

            next_block = time.monotonic() + options["ltc_block_seconds"]
            while not stopping:
                for process in processes:
                    if process.poll() is not None:
                        raise CommandError(f"{process.args[0]} exited with {process.returncode}")
                if ltc is not None and time.monotonic() >= next_block:
                    next_block = time.monotonic() + options["ltc_block_seconds"]
                    try:
                        rpc(ltc["rpc"], "generatetoaddress", [1, ltc["mining_address"]], auth=ltc["auth"])
                    except (OSError, NodeError) as error:  # the node is watched above; try again
                        self.stderr.write(f"devchain: litecoind did not mine a block: {error}")
                time.sleep(0.2)
        finally:
            for name in ("env.json", "state.json"):
                (folder / name).unlink(missing_ok=True)
            for process in processes:
                if process.poll() is None:
                    process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            self.stdout.write("devchain stopped.")

    def _start_anvil(self, options, folder: Path, processes: list) -> tuple[str, str]:
        port = options["anvil_port"] or _free_port()
        chain_id = get_network(EVM_NETWORK).chain_id_for(Mode.TEST)
        args = [anvil_bin(), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id),
                "--block-time", str(options["block_time"]), "--silent"]
        with open(folder / "anvil.log", "wb") as log:
            process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        answered = _wait(lambda: int(rpc(url, "eth_chainId", timeout=2), 16), what="anvil", process=process)
        if answered != chain_id:
            raise CommandError(f"port {port} answers chain id {answered}, not {chain_id}: another node runs there")
        artifact = json.loads(TOKEN_ARTIFACT.read_text())
        deploy = rpc(url, "eth_sendTransaction", [{"from": DEV_ACCOUNT, "data": artifact["bytecode"],
                                                   "gas": hex(3_000_000)}])
        token = to_checksum_address(_receipt(url, deploy)["contractAddress"])
        mint = "0x" + SELECTOR_MINT + _word(DEV_ACCOUNT) + _word(TOKEN_MINT_UNITS)
        _receipt(url, rpc(url, "eth_sendTransaction", [{"from": DEV_ACCOUNT, "to": token, "data": mint,
                                                        "gas": hex(200_000)}]))
        return url, token

    def _start_litecoind(self, options, folder: Path, processes: list) -> dict:
        port = options["litecoin_port"] or _free_port()
        datadir = folder / "litecoind"
        shutil.rmtree(datadir, ignore_errors=True)  # a fresh chain every start, like anvil's
        datadir.mkdir(parents=True)
        password = secrets.token_hex(16)
        args = [litecoind_bin(), "-regtest", f"-datadir={datadir}", f"-rpcport={port}", f"-port={_free_port()}",
                "-rpcbind=127.0.0.1", "-rpcallowip=127.0.0.1", f"-rpcuser={RPC_USER}", f"-rpcpassword={password}",
                "-fallbackfee=0.0001", "-listen=0", "-connect=0", "-dnsseed=0", "-upnp=0", "-server=1",
                "-daemon=0", "-printtoconsole=0"]
        with open(datadir / "stderr.log", "wb") as stderr:
            process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        auth = (RPC_USER, password)
        info = _wait(lambda: rpc(base, "getblockchaininfo", auth=auth, timeout=2), what="litecoind", process=process)
        if info.get("chain") != "regtest":
            raise CommandError(f"port {port} answers chain {info.get('chain')!r}, not regtest")
        rpc(base, "createwallet", [LTC_WALLET], auth=auth)
        wallet = f"{base}/wallet/{LTC_WALLET}"
        mining_address = rpc(wallet, "getnewaddress", ["mining", "bech32"], auth=auth)
        # Past MWEB's activation at once (regtest: height 432, -vbparams does not move it): from
        # there on, a block can only be mined once the MWEB chain has a peg-in, else
        # generatetoaddress fails with bad-txns-vin-empty (as Litecoin's own feature_mweb tests
        # set it up: 431 blocks, a peg-in to an mweb address, one block).
        rpc(wallet, "generatetoaddress", [MWEB_HEIGHT - 1, mining_address], auth=auth)
        pegin = rpc(wallet, "getnewaddress", ["mweb", "mweb"], auth=auth)
        rpc(wallet, "sendtoaddress", [pegin, "1"], auth=auth)
        rpc(wallet, "generatetoaddress", [1, mining_address], auth=auth)
        return {"url": f"http://{RPC_USER}:{password}@127.0.0.1:{port}", "rpc": wallet, "auth": auth,
                "password": password, "mining_address": mining_address}

    def _point_fluxa_at(self, chains: dict, token: str, token_channel: str) -> None:
        """The test token into the catalogue; scan cursors of these (fresh) chains from their head."""
        from charges.models import Channel
        from wallets.models import ChainCursor, ScannedBlock

        channel = Channel.objects.filter(code=token_channel).first()
        if channel is None:
            raise CommandError(f"No channel {token_channel!r} in the catalogue (run migrate first)")
        if get_network(channel.network).family != "evm":
            raise CommandError(f"Channel {token_channel} is on {channel.network}, not an EVM network")
        if channel.token_contract_test != token:
            channel.token_contract_test = token
            channel.save(update_fields=["token_contract_test"])
        for network in chains:
            ChainCursor.objects.filter(network=network, mode=Mode.TEST).delete()
            ScannedBlock.objects.filter(network=network, mode=Mode.TEST).delete()

    def _print_ready(self, state: dict, litecoin: bool) -> None:
        lines = [
            "=" * 72,
            f"devchain is up. anvil (ethereum, test mode): {state['anvil_url']}, chain id "
            f"{get_network(EVM_NETWORK).chain_id_for(Mode.TEST)}",
            f"  test token (6 decimals) {state['token_contract']} = token_contract_test of {state['token_channel']}",
        ]
        if litecoin:
            lines.append(f"litecoind regtest (litecoin, test mode): {state['litecoin_rpc'].rsplit('/wallet', 1)[0]}")
        lines += [
            "Point fluxa at them (make run DEVCHAIN=1 does this itself):",
            f"  export FLUXA_CHAINS='{state['FLUXA_CHAINS']}'",
            "Pay a test order for real (what is still due, from a funded dev account):",
            "  .venv/bin/python manage.py devchain pay ORDER_ID [--amount 1.5]",
            "Ctrl-C stops the nodes.",
            "=" * 72,
        ]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()

    # -- pay -------------------------------------------------------------------------------
    def pay(self, order_id: str, amount: str | None) -> str:
        from orders.models import Order

        state = load_state()
        order = Order.objects.select_related("channel").filter(pk=order_id).first()
        if order is None:
            raise CommandError(f"No order {order_id}")
        if order.mode != Mode.TEST:
            raise CommandError(f"Order {order_id} is a live-mode order: devchain pays test orders only")
        if not order.deposit_address:
            raise CommandError(f"Order {order_id} has no deposit address")
        due = Decimal(amount) if amount else max(order.amount_due - order.amount_received, Decimal(0)) or order.amount_due
        channel = order.channel
        if order.network == EVM_NETWORK:
            url = state["anvil_url"]
            contract = channel.token_contract_for(Mode.TEST)
            units = int(due.scaleb(channel.asset_decimals))
            if contract:
                if contract.lower() != state["token_contract"].lower():
                    raise CommandError(f"{channel.code}'s test contract {contract} is not the devchain token "
                                       f"{state['token_contract']}: only that one can be paid here")
                tx = {"from": state["evm_account"], "to": contract, "gas": hex(100_000),
                      "data": "0x" + SELECTOR_TRANSFER + _word(order.deposit_address) + _word(units)}
            else:
                tx = {"from": state["evm_account"], "to": order.deposit_address, "value": hex(units)}
            tx_hash = rpc(url, "eth_sendTransaction", [tx])
            return f"sent {due.normalize():f} {order.asset} to {order.deposit_address} on anvil: {tx_hash}"
        if order.network == UTXO_NETWORK:
            if "litecoin_rpc" not in state:
                raise CommandError("This devchain runs without litecoind")
            to = regtest_address(order.deposit_address)
            txid = rpc(state["litecoin_rpc"], "sendtoaddress", [to, str(due)],
                       auth=(state["litecoin_user"], state["litecoin_password"]))
            return f"sent {due.normalize():f} LTC to {order.deposit_address} (regtest form {to}) on litecoind: {txid}"
        raise CommandError(f"Order {order_id} is on {order.network}: devchain runs ethereum and litecoin only "
                           f"(use POST /api/v1/orders/{order_id}/simulate_payment for the others)")
