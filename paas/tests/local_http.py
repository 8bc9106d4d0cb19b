"""A small HTTP server on 127.0.0.1 for tests of outbound fetches: fixed routes, and the requests it saw."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False  # sent with Transfer-Encoding: chunked, without Content-Length
    content_length: int | None = None  # what Content-Length claims; the body's length when None


@dataclass(frozen=True)
class Seen:
    path: str
    host: str


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def do_GET(self) -> None:
        owner: LocalHTTPServer = self.server.owner
        owner.requests.append(Seen(self.path, self.headers.get("Host", "")))
        route = owner.routes.get(self.path.split("?")[0], Route(status=404, body=b"not here"))
        self.close_connection = True
        try:
            self.send_response(route.status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            if route.chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for start in range(0, len(route.body), 4096):
                    chunk = route.body[start : start + 4096]
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            else:
                length = len(route.body) if route.content_length is None else route.content_length
                self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(route.body)
        except OSError:
            pass  # the client hung up early, as it should for a body it refuses

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LocalHTTPServer:
    """``with LocalHTTPServer() as server: server.routes["/x"] = Route(body=b"…"); fetch(server.url("/x"))``."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def __enter__(self) -> LocalHTTPServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
