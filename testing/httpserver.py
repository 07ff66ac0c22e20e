"""A local HTTP server for tests: the chain stand-ins, webhook receivers, nodes that answer
badly. It listens on a free 127.0.0.1 port, serves from a daemon thread, and stops within
~50 ms (http.server's default poll interval would make every stop cost half a second).

    class Handler(QuietHandler):
        def do_POST(self):
            self.reply(200, b'{"ok": true}')

    with serve(Handler) as server:
        url_of(server)                      # http://127.0.0.1:<port>

    server = start_server(Handler); ...; stop_server(server)   # for objects that own one
    closed_url()                            # where nothing listens, for "the node is down"
"""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

POLL_INTERVAL = 0.05


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing, with `reply` for a whole answer at once."""

    def log_message(self, *args) -> None:
        pass

    def reply(self, status: int, body: bytes = b"", content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def start_server(handler: type[BaseHTTPRequestHandler], *, name: str = "test-http") -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL}, name=name,
                     daemon=True).start()
    return server


def stop_server(server: ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler], *, name: str = "test-http") -> Iterator[ThreadingHTTPServer]:
    server = start_server(handler, name=name)
    try:
        yield server
    finally:
        stop_server(server)


def url_of(server: ThreadingHTTPServer, path: str = "") -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def free_port() -> int:
    """A 127.0.0.1 port nobody listens on just now (for a node to bind, or for a test of a node
    that is not there)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_url(path: str = "") -> str:
    """An http URL on 127.0.0.1 where nothing listens: every request to it is refused."""
    return f"http://127.0.0.1:{free_port()}{path}"
