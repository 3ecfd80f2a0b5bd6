"""A real HTTP server on 127.0.0.1 that speaks OpenAI chat completions, scripted per test.

Each POST to /v1/chat/completions takes the next `Reply` from the script and answers it as JSON, or as
server-sent events when the request asks to stream (chunked transfer encoding, one `data:` event per token,
tool-call arguments streamed in pieces, `data: [DONE]` at the end). Every request body is recorded so tests can
check what went over the wire (tools offered, `max_tokens`, messages).

Endpoint quirks are switches: `reject_tools` answers 400 to any request offering tools (a server without tool
calling), `reject_response_format` answers 400 to any request asking for JSON mode (True) or for the given kinds of it
(a set such as {"json_schema"}).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Callable
from typing import Any


@dataclass
class Reply:
    """One scripted answer. `content` and `tool_calls` make a normal reply; `status` != 200 an error."""

    content: str | None = None
    tool_calls: list[tuple[str, Any]] = field(default_factory=list)
    status: int = 200
    error: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    cut_after: int | None = None  # streaming only: drop the connection after this many content characters
    drip: float = 0.0  # streaming only: seconds between content chunks (an endpoint that never goes quiet)
    compute: Callable[[dict[str, Any]], "Reply"] | None = None  # build the reply from the request body

    @classmethod
    def built_from(cls, compute: Callable[[dict[str, Any]], "Reply"]) -> "Reply":
        """A reply computed from the request (for answers that depend on the prompt cnaps sent)."""
        return cls(compute=compute)

    @classmethod
    def text(cls, content: str, **kw: Any) -> "Reply":
        return cls(content=content, **kw)

    @classmethod
    def json(cls, payload: Any, **kw: Any) -> "Reply":
        return cls(content=json.dumps(payload), **kw)

    @classmethod
    def tools(cls, *calls: tuple[str, Any]) -> "Reply":
        """Tool calls; each is (name, arguments) where arguments is a dict or a raw (possibly broken) string."""
        return cls(tool_calls=list(calls))

    @classmethod
    def fail(cls, status: int, message: str, **kw: Any) -> "Reply":
        return cls(status=status, error=message, **kw)


class FakeOpenAI:
    """Start with `with FakeOpenAI() as server:`; point OPENAI_BASE_URL at `server.url`."""

    def __init__(self, script: list[Reply] | None = None, reject_tools: bool = False,
                 reject_response_format: bool | set[str] = False, token_chars: int = 7) -> None:
        self.script: list[Reply] = list(script or [])
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.reject_tools = reject_tools
        self.reject_response_format = reject_response_format
        self.token_chars = token_chars
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def add(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            if self.reject_tools and body.get("tools"):
                return Reply.fail(400, "tools are not supported by this server")
            kind = (body.get("response_format") or {}).get("type")
            refused = self.reject_response_format
            if kind and (refused is True or (isinstance(refused, set) and kind in refused)):
                return Reply.fail(400, f"response_format {kind} is not supported by this server")
            if not self.script:
                return Reply.fail(500, "fake server: the test's script is exhausted")
            reply = self.script.pop(0)
        return reply.compute(body) if reply.compute else reply

    def __enter__(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:
            if self.path.rstrip("/").endswith("/models"):
                self._send_json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
            else:
                self._send_json(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            with fake._lock:
                fake.headers.append({k.lower(): v for k, v in self.headers.items()})
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send_json(404, {"error": {"message": f"no route {self.path}"}})
                return
            reply = fake.next_reply(body)
            try:
                self._answer(body, reply)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                self.close_connection = True

        def _answer(self, body: dict[str, Any], reply: Reply) -> None:
            if reply.delay:
                time.sleep(reply.delay)
            if reply.status != 200:
                error = {"error": {"message": reply.error, "type": "fake_error", "code": reply.status}}
                self._send_json(reply.status, error, reply.headers)
            elif body.get("stream"):
                self._stream(body, reply)
            else:
                self._send_json(200, _completion(body, reply))

        def _send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _event(self, body: dict[str, Any], delta: dict[str, Any], finish: str | None = None) -> None:
            payload = {
                "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": body.get("model", "fake-model"),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            self._chunk(f"data: {json.dumps(payload)}\n\n".encode())

        def _stream(self, body: dict[str, Any], reply: Reply) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._event(body, {"role": "assistant", "content": ""})
            content = reply.content or ""
            step = fake.token_chars
            for start in range(0, len(content), step):
                if reply.cut_after is not None and start >= reply.cut_after:
                    self._cut()
                    return
                self._event(body, {"content": content[start:start + step]})
                if reply.drip:
                    self.wfile.flush()
                    time.sleep(reply.drip)
            for index, (name, arguments) in enumerate(reply.tool_calls):
                raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
                head = {"index": index, "id": f"call_{index}", "type": "function",
                        "function": {"name": name, "arguments": ""}}
                self._event(body, {"tool_calls": [head]})
                for start in range(0, len(raw), step):
                    piece = {"index": index, "function": {"arguments": raw[start:start + step]}}
                    self._event(body, {"tool_calls": [piece]})
            self._event(body, {}, "tool_calls" if reply.tool_calls else "stop")
            self._chunk(b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _cut(self) -> None:
            """Drop the connection mid-stream, without the terminating chunk."""
            self.wfile.flush()
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.close_connection = True

    return Handler


def _completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function",
             "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
            for i, (name, args) in enumerate(reply.tool_calls)
        ]
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
        "model": body.get("model", "fake-model"),
        "choices": [{"index": 0, "message": message,
                     "finish_reason": "tool_calls" if reply.tool_calls else "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
