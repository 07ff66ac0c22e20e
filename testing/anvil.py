"""A real local EVM node for tests: anvil (Foundry), installed by scripts/nodes.sh, which
exports its path as FLUXA_ANVIL_BIN.

Tests take the session's node from the `anvil` fixture (testing/fixtures.py: one process per
session, reverted to its start at the end of every module); start_anvil() is for scripts
(bench/scan.py).

    def test_something(anvil):
        ...

    anvil.url                                # http://127.0.0.1:<free port>
    anvil.rpc("evm_mine")                    # any JSON-RPC method; errors raise AnvilError
    snap = anvil.snapshot(); ...; anvil.revert(snap)
    anvil.private_keys[0], anvil.accounts[0] # funded dev accounts (10,000 ETH each)

By default anvil automines: every transaction lands in a block of its own at once. With
`block_time` it mines on that interval instead. No FLUXA_ANVIL_BIN is an error, never a
skip: `make test` always installs anvil.

The dev keys are anvil's public defaults (mnemonic "test test test test test test test test
test test test junk", m/44'/60'/0'/0/i): known to everybody, test money only.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testing.httpserver import free_port

# anvil's default accounts (of the mnemonic "test test test test test test test test test test test junk")
DEV_PRIVATE_KEYS: tuple[str, ...] = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
)
DEV_ADDRESSES: tuple[str, ...] = (  # checksummed, in the order of DEV_PRIVATE_KEYS
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
)

START_TIMEOUT = 30.0

# The test stablecoin (testing/artifacts/TestStablecoin.sol, compiled by compile.cjs): abi + bytecode.
TEST_TOKEN_ARTIFACT = Path(__file__).resolve().parent / "artifacts" / "TestStablecoin.json"


class AnvilError(RuntimeError):
    """anvil did not start, or answered a JSON-RPC call with an error."""


@dataclass
class Anvil:
    process: subprocess.Popen
    url: str
    port: int
    chain_id: int
    log_path: str
    private_keys: tuple[str, ...] = DEV_PRIVATE_KEYS
    accounts: tuple[str, ...] = DEV_ADDRESSES
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False)

    def rpc(self, method: str, params: list | tuple = (), *, timeout: float = 30.0) -> Any:
        """One JSON-RPC call; returns its result, raises AnvilError on an error answer."""
        return _rpc(self.url, method, list(params), request_id=next(self._ids), timeout=timeout)

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", [hex(blocks)])

    def snapshot(self) -> str:
        return self.rpc("evm_snapshot")

    def revert(self, snapshot_id: str) -> None:
        if self.rpc("evm_revert", [snapshot_id]) is not True:
            raise AnvilError(f"evm_revert({snapshot_id}) failed")

    def block_number(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def log(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop anvil (SIGTERM, then SIGKILL after 5 s) and remove its log; idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        try:
            os.unlink(self.log_path)
        except OSError:
            pass

    def __enter__(self) -> Anvil:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def anvil_bin() -> str:
    path = os.environ.get("FLUXA_ANVIL_BIN", "")
    if not path:
        raise AnvilError("FLUXA_ANVIL_BIN is not set: run the tests through `make test` "
                         "(scripts/nodes.sh installs anvil and exports it)")
    if not os.access(path, os.X_OK):
        raise AnvilError(f"FLUXA_ANVIL_BIN={path} is not an executable file: run `make test` again")
    return path


def start_anvil(*, chain_id: int = 31337, block_time: float | None = None) -> Anvil:
    """Start anvil on a free 127.0.0.1 port and return once it answers eth_chainId."""
    binary = anvil_bin()
    last_error: Exception | None = None
    for _ in range(3):  # a free port can be taken by someone else before anvil binds it
        port = free_port()
        args = [binary, "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id), "--silent"]
        if block_time is not None:
            args += ["--block-time", str(block_time)]
        log = tempfile.NamedTemporaryFile(prefix="fluxa-anvil-", suffix=".log", delete=False)
        with log:
            process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       preexec_fn=_die_with_parent if _PRCTL is not None else None)
        node = Anvil(process=process, url=f"http://127.0.0.1:{port}", port=port, chain_id=chain_id,
                     log_path=log.name)
        try:
            _wait_ready(node)
            return node
        except AnvilError as error:
            last_error = error
            node.stop()
    raise AnvilError(f"anvil did not start: {last_error}")


def _wait_ready(node: Anvil) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if node.process.poll() is not None:
            raise AnvilError(f"anvil exited with {node.process.returncode}: {node.log()[-2000:]}")
        try:
            answered = int(node.rpc("eth_chainId", timeout=2), 16)
        except (OSError, AnvilError, ValueError):
            answered = None
        if answered is not None:
            if answered != node.chain_id:  # somebody else's node on that port
                raise AnvilError(f"port {node.port} answers chain id {answered}, not {node.chain_id}")
            return
        if time.monotonic() > deadline:
            raise AnvilError(f"anvil did not answer within {START_TIMEOUT:.0f} s: {node.log()[-2000:]}")
        time.sleep(0.05)


def _rpc(url: str, method: str, params: list, *, request_id: int, timeout: float) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer = json.loads(response.read())
    if "error" in answer:
        raise AnvilError(f"{method}: {answer['error']}")
    return answer["result"]


def _load_prctl():
    """prctl(2), looked up in the parent: a forked child of a threaded process must not dlopen."""
    if sys.platform != "linux":
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: anvil gets SIGTERM when the test process dies, so a killed run leaves no node."""
    _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
