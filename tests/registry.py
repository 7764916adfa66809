"""A small HTTP proxy in front of the test's Verdaccio that can answer chosen requests with an
error, to make registry failures real."""

from __future__ import annotations

import http.client
import http.server
import json
import threading
from dataclasses import dataclass, field
from urllib.parse import unquote


@dataclass
class FaultyProxy:
    """Forwards to `upstream`; `faults[(method, package)]` lists the answers to give in turn (the last
    one repeats): an HTTP status to answer with, or 0 to forward the request."""

    upstream: str
    faults: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    seen: list[tuple[str, str, int]] = field(default_factory=list)  # (method, package, status answered)
    url: str = ""

    def count(self, method: str, package: str) -> int:
        return sum(1 for m, p, _ in self.seen if m == method and p == package)

    def start(self) -> FaultyProxy:
        proxy = self
        host, port = self.upstream.split("//")[1].rstrip("/").split(":")

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                package = unquote(self.path.lstrip("/").split("/-/")[0]).split("?")[0]
                queue = proxy.faults.get((self.command, package))
                status = (queue.pop(0) if len(queue) > 1 else queue[0]) if queue else 0
                if status:
                    proxy.seen.append((self.command, package, status))
                    message = json.dumps({"error": f"injected {status} by the test proxy"}).encode()
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(message)))
                    self.end_headers()
                    self.wfile.write(message)
                    return
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                proxy.seen.append((self.command, package, resp.status))
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = _handle

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
