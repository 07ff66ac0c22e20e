"""A small closed-loop HTTP/1.1 load generator: C client threads, each on its own keep-alive
connection to 127.0.0.1, sending pre-built (pre-signed) requests back to back.

Each phase runs `warmup` seconds whose results are thrown away, then `duration` seconds that
are measured: req/s is the number of responses completed inside the window divided by its
length; p50/p99 are over the latency (send to last byte of the body) of those responses. Any
response with another status than the expected one is counted as an error and fails the run.
The client's own CPU (user + system of this process over the window) is reported next to the
results, so that one can see it was not the bottleneck.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fluxa_client import signed_headers


def build_request(*, host: str, port: int, method: str, target: str, key_id: str, secret: str,
                  body: bytes = b"", timestamp: int | None = None) -> bytes:
    """The raw bytes of one signed request (fluxa_client.signed_headers, as merchants sign)."""
    headers = signed_headers(key_id=key_id, secret=secret, method=method, target=target, body=body,
                             timestamp=timestamp)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", "Accept: application/json",
             *(f"{k}: {v}" for k, v in headers.items())]
    if body or method in ("POST", "PUT", "PATCH"):
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def charge_body(merchant_order_id: str) -> bytes:
    return json.dumps({"amount": "25.50", "currency": "USDT", "network": "tron",
                       "merchant_order_id": merchant_order_id}, separators=(",", ":")).encode()


class Connection:
    def __init__(self, host: str, port: int):
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        """Send one request, read one response: (status, body, server keeps the connection)."""
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = None
        keep = True
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                keep = False
        if length is None:
            raise ConnectionError("response without Content-Length")
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection mid-body")
            rest += chunk
        body, self.buf = rest[:length], rest[length:]
        return status, body, keep

    def close(self) -> None:
        self.sock.close()


@dataclass
class PhaseResult:
    name: str
    clients: int
    duration: float
    requests: int
    errors: int
    latencies_ms: list[float] = field(repr=False)
    client_cpu_percent: float
    first_error: str | None = None
    total_sent: int = 0
    reconnects: int = 0
    server_cpu: dict = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.duration

    @classmethod
    def merge(cls, name: str, parts: list[PhaseResult]) -> PhaseResult:
        """One result of several segments of the same load: requests, errors and latencies
        added up, CPU percentages weighted by each segment's duration."""
        duration = sum(p.duration for p in parts)

        def weighted(values) -> float:
            return sum(v * p.duration for v, p in zip(values, parts)) / duration

        keys = {k for p in parts for k in p.server_cpu}
        errors = [p.first_error for p in parts if p.first_error]
        return cls(
            name=name, clients=parts[0].clients, duration=duration, requests=sum(p.requests for p in parts),
            errors=sum(p.errors for p in parts), latencies_ms=[x for p in parts for x in p.latencies_ms],
            client_cpu_percent=weighted(p.client_cpu_percent for p in parts),
            first_error=errors[0] if errors else None, total_sent=sum(p.total_sent for p in parts),
            reconnects=sum(p.reconnects for p in parts),
            server_cpu={k: weighted(p.server_cpu.get(k, 0.0) for p in parts) for k in sorted(keys)},
        )

    def percentile(self, p: float) -> float:
        data = sorted(self.latencies_ms)
        if not data:
            return float("nan")
        k = min(len(data) - 1, max(0, int(round(p / 100 * len(data) + 0.5)) - 1))
        return data[k]

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    @property
    def mean(self) -> float:
        return sum(self.latencies_ms) / len(self.latencies_ms) if self.latencies_ms else float("nan")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_phase(*, name: str, host: str, port: int, clients: int, warmup: float, duration: float,
              next_request: Callable[[int, int], bytes], expect: int,
              cpu_probe: Callable[[], dict] | None = None) -> PhaseResult:
    """Run `clients` threads; client c sends next_request(c, n) for n = 0, 1, ... until the end
    of the phase. Results of requests completed in [warm-up end, phase end] are measured."""
    start = time.monotonic() + 0.2
    t0 = start + warmup
    t1 = t0 + duration
    per_client: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    sent = [0] * clients
    reconnects = [0] * clients
    first_error: list[str] = []
    ready = threading.Barrier(clients + 1)
    marks: dict[str, float | dict] = {}

    def client(c: int) -> None:
        conn = Connection(host, port)
        ready.wait()
        while time.monotonic() < start:
            time.sleep(0.001)
        n = 0
        lat = per_client[c]
        try:
            while True:
                request = next_request(c, n)
                n += 1
                began = time.perf_counter()
                if time.monotonic() >= t1:
                    break
                status, body, keep = conn.exchange(request)
                elapsed = time.perf_counter() - began
                done = time.monotonic()
                sent[c] += 1
                if t0 <= done <= t1:
                    if status == expect:
                        lat.append(elapsed * 1000)
                    else:
                        errors[c] += 1
                elif status != expect:
                    errors[c] += 1
                if status != expect and not first_error:
                    first_error.append(f"HTTP {status}: {body[:300]!r}")
                if not keep:
                    conn.close()
                    conn = Connection(host, port)
                    reconnects[c] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(clients)]
    for t in threads:
        t.start()
    ready.wait()

    def mark(label: str, at: float) -> None:
        while time.monotonic() < at:
            time.sleep(min(0.01, max(0.0, at - time.monotonic())))
        marks[label] = _cpu_seconds()
        if cpu_probe:
            marks[label + "_server"] = cpu_probe()

    mark("t0", t0)
    mark("t1", t1)
    for t in threads:
        t.join()
    latencies = [x for lat in per_client for x in lat]
    server = {}
    if cpu_probe:
        before, after = marks["t0_server"], marks["t1_server"]
        for k, v in after.items():  # per process: one that exits in between must not count negative
            if isinstance(v, dict):
                server[k] = sum(t - before[k].get(pid, 0.0) for pid, t in v.items()) / duration * 100
            else:
                server[k] = (v - before[k]) / duration * 100
        client_cpu = (marks["t1"] - marks["t0"]) / duration * 100
        if "machine" in server:
            server["others"] = server.pop("machine") - client_cpu - sum(server.values())
    return PhaseResult(
        name=name, clients=clients, duration=duration, requests=len(latencies), errors=sum(errors),
        latencies_ms=latencies, client_cpu_percent=(marks["t1"] - marks["t0"]) / duration * 100,
        first_error=first_error[0] if first_error else None, total_sent=sum(sent),
        reconnects=sum(reconnects), server_cpu=server,
    )


def proc_cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """utime + stime of each of these processes (not their children), in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / tick
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def proc_cpu_seconds(pids: list[int]) -> float:
    return sum(proc_cpu_by_pid(pids).values())


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(*, own_pids: list[int], limit_percent: float = 25.0, max_wait: float = 90.0,
                   sample: float = 1.0, log=print) -> float:
    """Wait (at most max_wait seconds) until processes that are not ours use less than
    limit_percent of one core; returns what they used in the last sample."""
    deadline = time.monotonic() + max_wait
    warned = False
    while True:
        m0, o0, s0 = machine_busy_seconds(), proc_cpu_seconds(own_pids), _cpu_seconds()
        time.sleep(sample)
        others = ((machine_busy_seconds() - m0) - (proc_cpu_seconds(own_pids) - o0) - (_cpu_seconds() - s0)) / sample * 100
        if others < limit_percent or time.monotonic() >= deadline:
            return others
        if not warned:
            log(f"  other processes use {others:.0f} % CPU: waiting up to {max_wait:g} s for a quieter machine")
            warned = True
