"""A real local UTXO node for tests: litecoind (Litecoin Core 0.21.x, Debian package
`litecoind`) in regtest, installed by scripts/nodes.sh, which exports its path as
FLUXA_LITECOIND_BIN. Litecoin Core answers the same JSON-RPC as bitcoind, so the UTXO adapter
(chains/adapters/utxo.py) is tested against it for bitcoin and litecoin alike.

Tests take the session's node from the `litecoind` fixture (testing/fixtures.py: one process
per session; it has no snapshots, so tests pay to fresh addresses).

    def test_something(litecoind):
        ...

    node.url                       # http://fluxa:<random password>@127.0.0.1:<free port>
    node.rpc("getblockcount")      # any JSON-RPC method; errors raise LitecoindError
    node.mine(3)                   # blocks mined to node.mining_address (the test wallet's)
    node.rpc("sendtoaddress", regtest_address("ltc1q..."), "1.5")  # amounts as strings: no floats

The node has one wallet (`fluxa-tests`), funded by mining 101 blocks on start: the coinbase of
block 1 is spendable, and every later `mine` makes one more coinbase mature. The node runs in
the foreground (-daemon=0) as our child, without P2P networking (-listen=0 -connect=0), and
gets SIGTERM when the test process dies (Linux). No FLUXA_LITECOIND_BIN is an error, never a
skip: `make test` always installs litecoind.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from base64 import b64encode
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chains.encoding import decode_segwit, encode_segwit
from testing.anvil import _PRCTL, _die_with_parent
from testing.httpserver import free_port

REGTEST_HRP = "rltc"
START_TIMEOUT = 60.0
RPC_USER = "fluxa"
WALLET = "fluxa-tests"
MATURE_BLOCKS = 101


class LitecoindError(RuntimeError):
    """litecoind did not start, or answered a JSON-RPC call with an error."""
    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


@dataclass
class Litecoind:
    process: subprocess.Popen
    datadir: str
    port: int
    password: str
    wallet: str = WALLET
    mining_address: str = ""
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False)

    @property
    def url(self) -> str:
        """The RPC URL with its credentials, as fluxa's FLUXA_CHAINS takes it."""
        return f"http://{RPC_USER}:{self.password}@127.0.0.1:{self.port}"

    def rpc(self, method: str, *params: Any, timeout: float = 60.0) -> Any:
        """One JSON-RPC call (to the test wallet's endpoint, so wallet calls work too);
        returns its result with numbers as Decimal, raises LitecoindError on an error answer."""
        body = json.dumps({"jsonrpc": "1.0", "id": next(self._ids), "method": method, "params": list(params)},
                          default=str).encode()
        path = f"/wallet/{self.wallet}" if self.mining_address else "/"
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=body,
            headers={"Content-Type": "application/json",
                     "Authorization": "Basic " + b64encode(f"{RPC_USER}:{self.password}".encode()).decode()})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:  # bitcoind answers RPC errors with HTTP 500/404
            raw = error.read()
            if not raw:
                raise LitecoindError(f"{method}: HTTP {error.code}") from error
        answer = json.loads(raw, parse_float=Decimal)
        if answer.get("error"):
            raise LitecoindError(f"{method}: {answer['error']}", code=answer["error"].get("code"))
        return answer["result"]

    def mine(self, blocks: int = 1, address: str | None = None) -> list[str]:
        """Mine `blocks` blocks (to the wallet's mining address); returns their hashes."""
        return self.rpc("generatetoaddress", blocks, address or self.mining_address)

    def height(self) -> int:
        return self.rpc("getblockcount")

    def log(self) -> str:
        """What litecoind wrote to stderr, then its debug.log."""
        text = ""
        for name in ("stderr.log", os.path.join("regtest", "debug.log")):
            try:
                with open(os.path.join(self.datadir, name), encoding="utf-8", errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        return text

    def stop(self) -> None:
        """RPC `stop`, then SIGKILL when it has not exited after 5 s (its shutdown waits for
        clients' kept-alive RPC connections; the datadir is thrown away anyway); removes the
        datadir. Idempotent."""
        if self.process.poll() is None:
            try:
                self.rpc("stop", timeout=5)
            except (OSError, LitecoindError, ValueError):
                self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.datadir, ignore_errors=True)

    def __enter__(self) -> Litecoind:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def regtest_address(address: str) -> str:
    """The regtest (rltc1...) form of a segwit address of any chain (ltc1, tltc1, bc1, ...):
    the same witness program, so the same scriptPubKey, which regtest's sendtoaddress accepts."""

    decoded = decode_segwit(address)
    return encode_segwit(REGTEST_HRP, decoded.version, decoded.program)


def litecoind_bin() -> str:
    path = os.environ.get("FLUXA_LITECOIND_BIN", "")
    if not path:
        raise LitecoindError("FLUXA_LITECOIND_BIN is not set: run the tests through `make test` "
                             "(scripts/nodes.sh installs litecoind and exports it)")
    if not os.access(path, os.X_OK):
        raise LitecoindError(f"FLUXA_LITECOIND_BIN={path} is not an executable file: run `make test` again")
    return path


def start_litecoind(*, fund: bool = True) -> Litecoind:
    """Start a regtest litecoind on free 127.0.0.1 ports, wait until its RPC answers, create
    the test wallet and (with `fund`) mine 101 blocks to it."""
    binary = litecoind_bin()
    last_error: Exception | None = None
    for _ in range(3):  # a free port can be taken by someone else before litecoind binds it
        datadir = tempfile.mkdtemp(prefix="fluxa-litecoind-")
        port, p2p_port = free_port(), free_port()
        password = secrets.token_hex(16)
        args = [binary, "-regtest", f"-datadir={datadir}", f"-rpcport={port}", f"-port={p2p_port}",
                "-rpcbind=127.0.0.1", "-rpcallowip=127.0.0.1", f"-rpcuser={RPC_USER}", f"-rpcpassword={password}",
                "-fallbackfee=0.0001", "-txindex=0", "-listen=0", "-connect=0", "-dnsseed=0", "-upnp=0",
                "-server=1", "-daemon=0", "-printtoconsole=0", "-disablewallet=0",
                # BIP125 replacements, as the node fluxa settles through must run (Litecoin Core's default is off)
                "-mempoolreplacement=1"]
        # -bind is left out: litecoind refuses -bind together with -listen=0 (no P2P socket at all).
        with open(os.path.join(datadir, "stderr.log"), "wb") as stderr:
            process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                                       preexec_fn=_die_with_parent if _PRCTL is not None else None)
        node = Litecoind(process=process, datadir=datadir, port=port, password=password)
        try:
            _wait_ready(node)
            node.rpc("createwallet", WALLET)
            node.mining_address = node.rpc("getnewaddress", "mining", "bech32")
            if fund:
                node.mine(MATURE_BLOCKS)
            return node
        except LitecoindError as error:
            last_error = error
            node.stop()
    raise LitecoindError(f"litecoind did not start: {last_error}")


def _wait_ready(node: Litecoind) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if node.process.poll() is not None:
            raise LitecoindError(f"litecoind exited with {node.process.returncode}: {node.log()[-2000:]}")
        try:
            info = node.rpc("getblockchaininfo", timeout=2)
        except LitecoindError as error:
            if error.code != -28:  # -28: still warming up
                raise
            info = None
        except (OSError, ValueError):
            info = None
        if info is not None:
            if info.get("chain") != "regtest":  # somebody else's node on that port
                raise LitecoindError(f"port {node.port} answers chain {info.get('chain')!r}, not regtest")
            return
        if time.monotonic() > deadline:
            raise LitecoindError(f"litecoind did not answer within {START_TIMEOUT:.0f} s: {node.log()[-2000:]}")
        time.sleep(0.05)
