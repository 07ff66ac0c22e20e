"""Soak: `make run DEVCHAIN=1` for N minutes while test charges are paid on the local chains.

    .venv/bin/python bench/soak.py --minutes 30            # or: bash bench/soak.sh 30
    .venv/bin/python bench/soak.py --minutes 10 --interval 4 --json /tmp/soak.json

scripts/run.py --devchain starts on a fresh data folder (anvil + regtest litecoind from
`manage.py devchain`, the web server, the worker with beat on the file broker). Every
--interval seconds one charge is created through the API with the demo merchant's test key,
on usdt_erc20 (the devchain's test token), eth and, every --ltc-every'th, ltc, and paid for
real on the chain, in full, from the dev accounts. Every 5 s the process tree is sampled.
At the end (plus a grace for the last confirmations) it reports whether every process stayed
up with the pid it started with (no restarts by run.py's supervisor, nothing exited), whether
every paid order was seen `paid`, the pay-to-paid times, and charges refused. Exit status 0
only when both hold.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from base64 import b64encode
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chains.encoding import decode_segwit, encode_segwit  # noqa: E402
from fluxa_client import FluxaClient  # noqa: E402

_ids = itertools.count(1)


def _rpc(url: str, method: str, params: list, auth: tuple[str, str] | None = None):
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = "Basic " + b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    body = json.dumps({"jsonrpc": "2.0", "id": next(_ids), "method": method, "params": params}).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=30) as response:
        answer = json.loads(response.read())
    if answer.get("error"):
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def _word(value: int | str) -> str:
    return format(int(value, 16) if isinstance(value, str) else value, "064x")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _processes(root_pid: int) -> dict[str, int]:
    """run.py's supervised children and the nodes under devchain, by role."""
    tree = _children()
    roles: dict[str, int] = {}
    for pid in tree.get(root_pid, []):
        cmd = _cmdline(pid)
        if " devchain" in cmd:
            roles["devchain"] = pid
            for node in tree.get(pid, []):
                node_cmd = _cmdline(node)
                roles["anvil" if "anvil" in node_cmd else "litecoind" if "litecoind" in node_cmd else f"node{node}"] = node
        elif "runserver" in cmd:
            roles["web"] = pid
        elif "celery" in cmd:
            roles["worker"] = pid
    return roles


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between paid charges")
    parser.add_argument("--ltc-every", type=int, default=4, help="every n-th charge on ltc (0: none)")
    parser.add_argument("--grace", type=float, default=120.0, help="seconds to wait for the last confirmations")
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="fluxa-soak-"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in {"SECRET_KEY", "FLUXA_ENCRYPTION_KEYS", "FLUXA_ENV_FILE", "DATABASE_URL", "CELERY_BROKER_URL",
                        "CACHE_URL", "FLUXA_DATA_DIR", "DJANGO_SETTINGS_MODULE", "FLUXA_CHAINS"}}
    lines: list[str] = []
    log = open(data_dir / "run.log", "w")
    started = time.monotonic()
    run = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "run.py"), "--port", str(port), "--data-dir", str(data_dir),
         "--devchain", "--devchain-args", "--anvil-port 0 --litecoin-port 0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def _read() -> None:
        for line in run.stdout:
            lines.append(line.rstrip("\n"))
            log.write(line)
            log.flush()

    threading.Thread(target=_read, daemon=True).start()

    def _wait_line(pattern: str, timeout: float = 180.0) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(lines):
                match = re.search(pattern, line)
                if match:
                    return match
            if run.poll() is not None:
                break
            time.sleep(0.2)
        raise SystemExit("soak: make run did not start:\n" + "\n".join(lines[-40:]))

    report: dict = {"minutes": args.minutes, "interval_s": args.interval, "data_dir": str(data_dir)}
    try:
        key_id = _wait_line(r"FLUXA_KEY_ID=(fk_test_\S+)").group(1)
        secret = _wait_line(r"^\s*FLUXA_SECRET=(\S+)$").group(1)
        _wait_line(r"celery@\S+ ready\.")
        report["startup_s"] = round(time.monotonic() - started, 1)
        state = json.loads((data_dir / "devchain" / "state.json").read_text())
        client = FluxaClient(f"http://127.0.0.1:{port}", key_id=key_id, secret=secret)
        # Charges on a scanned network are refused until its node has been scanned once
        # (network_unavailable): wait for the first scan before the clock starts.
        warm_deadline = time.monotonic() + 120
        while time.monotonic() < warm_deadline:
            status, _ = client.request("POST", "/api/v1/charges", json_body={
                "amount": "1", "currency": "USDT", "channel": "usdt_erc20"})
            if status == 201:
                break
            time.sleep(1)
        report["first_charge_accepted_s"] = round(time.monotonic() - started, 1)
        first = _processes(run.pid)
        report["processes_at_start"] = first
        print(f"soak: up in {report['startup_s']} s: {first}; paying a charge every {args.interval} s "
              f"for {args.minutes} min", flush=True)

        paid: dict[str, dict] = {}  # order id -> {channel, paid_at (monotonic), seen_paid_s}
        refused: dict[str, int] = {}
        pay_errors: list[str] = []
        samples: list[dict] = []
        end = time.monotonic() + args.minutes * 60
        next_sample = 0.0
        for n in itertools.count():
            if time.monotonic() >= end:
                break
            tick = time.monotonic()
            channel = ("ltc" if args.ltc_every and "litecoin_rpc" in state and n % args.ltc_every == args.ltc_every - 1
                       else ("usdt_erc20", "eth")[n % 2])
            amount = {"usdt_erc20": "3.5", "eth": "0.001", "ltc": "0.02"}[channel]
            asset = {"usdt_erc20": "USDT", "eth": "ETH", "ltc": "LTC"}[channel]
            try:
                status, body = client.request("POST", "/api/v1/charges", json_body={
                    "amount": amount, "currency": asset, "channel": channel, "merchant_order_id": f"soak-{n}"})
            except OSError as error:
                status, body = 0, {"error": {"code": type(error).__name__}}
            if status != 201:
                code = body.get("error", {}).get("code", str(status)) if isinstance(body, dict) else str(status)
                refused[code] = refused.get(code, 0) + 1
            else:
                instruction, order_id = body["instruction"], body["order"]["id"]
                try:
                    _pay(state, channel, instruction)
                    paid[order_id] = {"channel": channel, "paid_at": time.monotonic(), "seen_paid_s": None}
                except Exception as error:  # noqa: BLE001 - a soak reports, it does not stop
                    pay_errors.append(f"{order_id}: {error}")
            _poll(client, paid)
            if time.monotonic() >= next_sample:
                now = _processes(run.pid)
                samples.append({"t": round(time.monotonic() - started), "pids": now,
                                "rss_mb": {k: round(_rss_mb(v), 1) for k, v in now.items()}})
                next_sample = time.monotonic() + 5
            time.sleep(max(0.0, args.interval - (time.monotonic() - tick)))

        deadline = time.monotonic() + args.grace
        while time.monotonic() < deadline and any(o["seen_paid_s"] is None for o in paid.values()):
            _poll(client, paid)
            time.sleep(2)
        last = _processes(run.pid)
        changed = sorted({role for s in samples for role, pid in s["pids"].items() if first.get(role) != pid}
                         | {role for role in first if role not in last or last[role] != first[role]})
        restarts = [line for line in lines if "starting it again" in line or "exited with" in line]
        times = sorted(o["seen_paid_s"] for o in paid.values() if o["seen_paid_s"] is not None)
        unpaid = sorted(order_id for order_id, o in paid.items() if o["seen_paid_s"] is None)
        by_channel: dict[str, dict] = {}
        for o in paid.values():
            entry = by_channel.setdefault(o["channel"], {"paid_on_chain": 0, "seen_paid": 0})
            entry["paid_on_chain"] += 1
            entry["seen_paid"] += o["seen_paid_s"] is not None
        report.update({
            "ran_s": round(time.monotonic() - started),
            "charges_paid_on_chain": len(paid),
            "seen_paid": len(times),
            "unpaid": unpaid[:20],
            "by_channel": by_channel,
            "refused": refused,
            "pay_errors": pay_errors[:10],
            "pay_to_paid_s": ({"p50": round(statistics.median(times), 1),
                               "p95": round(times[int(0.95 * (len(times) - 1))], 1),
                               "max": round(times[-1], 1)} if times else None),
            "processes_at_end": last,
            "processes_changed": changed,
            "supervisor_lines": restarts[:10],
            "rss_mb_start_end": {"start": samples[0]["rss_mb"] if samples else {}, "end": {
                k: round(_rss_mb(v), 1) for k, v in last.items()}},
            "broker_corrupt_files": len(list((data_dir / "broker" / "corrupt").glob("*"))),
            "errors_in_log": sum(1 for line in lines if "Traceback" in line or "CRITICAL" in line),
        })
        report["every_process_stayed_up"] = (run.poll() is None and not changed and not restarts
                                             and set(last) == set(first))
        report["every_paid_order_seen_paid"] = bool(paid) and not unpaid
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGINT)
            try:
                run.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(run.pid, signal.SIGKILL)
        report["make_run_exit"] = run.returncode
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    ok = report.get("every_process_stayed_up") and report.get("every_paid_order_seen_paid")
    print(f"soak: {'OK' if ok else 'FAILED'}: every process stayed up: {report.get('every_process_stayed_up')}, "
          f"every paid order seen paid: {report.get('every_paid_order_seen_paid')} "
          f"({report.get('seen_paid')}/{report.get('charges_paid_on_chain')}); log: {data_dir / 'run.log'}")
    return 0 if ok else 1


def _pay(state: dict, channel: str, instruction: dict) -> None:
    """Pay the instruction in full on the devchain, from its funded dev accounts."""
    address, amount = instruction["deposit_address"], Decimal(instruction["amount_due"])
    if channel == "ltc":
        decoded = decode_segwit(address)  # fluxa hands out tltc1; regtest takes the rltc1 form
        _rpc(state["litecoin_rpc"], "sendtoaddress",
             [encode_segwit("rltc", decoded.version, decoded.program), str(amount)],
             auth=(state["litecoin_user"], state["litecoin_password"]))
    elif channel == "eth":
        _rpc(state["anvil_url"], "eth_sendTransaction", [{"from": state["evm_account"], "to": address,
                                                          "value": hex(int(amount.scaleb(18)))}])
    else:
        data = "0xa9059cbb" + _word(address) + _word(int(amount.scaleb(6)))
        _rpc(state["anvil_url"], "eth_sendTransaction", [{"from": state["evm_account"], "to": state["token_contract"],
                                                          "data": data, "gas": hex(100_000)}])


def _poll(client: FluxaClient, paid: dict) -> None:
    """Look up the orders not yet seen paid (at most 10 per call, oldest first)."""
    waiting = [order_id for order_id, o in paid.items() if o["seen_paid_s"] is None][:10]
    for order_id in waiting:
        try:
            status, body = client.request("GET", f"/api/v1/orders/{order_id}")
        except OSError:
            continue
        if status == 200 and body["order"]["status"] in ("paid", "overpaid"):
            paid[order_id]["seen_paid_s"] = time.monotonic() - paid[order_id]["paid_at"]


if __name__ == "__main__":
    sys.exit(main())
