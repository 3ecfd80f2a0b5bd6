"""A loopback HTTP server standing in for the authors' download links: it serves bytes with Range support, and can
answer 500 or cut the first transfer off part way (to test resuming). And checkpoints to serve, in the authors'
layout."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Served:
    """What the server answers at every path, and what it was asked."""

    body: bytes = b""
    status: int = 200
    cut_first_at: int | None = None  # first full transfer stops after this many bytes, Content-Length still full
    ranges: list[str | None] = field(default_factory=list)  # the Range header of each request


class WeightsServer:
    def __init__(self) -> None:
        self.served = Served()
        served = self.served

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                wanted = self.headers.get("Range")
                served.ranges.append(wanted)
                if served.status != 200:
                    self.send_error(served.status)
                    return
                body, start = served.body, 0
                if wanted and wanted.startswith("bytes="):
                    start = int(wanted[len("bytes="):].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body) - start))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                chunk = body[start:]
                if served.cut_first_at is not None and start == 0:
                    chunk, served.cut_first_at = chunk[:served.cut_first_at], None
                    self.close_connection = True
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):  # the client stopped reading: fine
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def __enter__(self) -> "WeightsServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def official_checkpoint(network: str) -> bytes:
    """The bytes of torch.save({'model': state_dict}) for the zoo's `network`, as the authors saved theirs."""
    import torch

    from tools.restoration import build_model

    torch.manual_seed(0)
    buffer = io.BytesIO()
    torch.save({"model": build_model(network).state_dict()}, buffer)
    return buffer.getvalue()
