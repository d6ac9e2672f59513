"""A scripted OpenAI-compatible chat server on 127.0.0.1 (stdlib only), for the tests.

Each POST to ``/v1/chat/completions`` takes the next step of the script; the last step repeats.
Every request is recorded (headers and JSON body) so a test can check what the client sent.
Steps inject faults: error statuses, unreadable bodies, hangs, crafted drafts (``answer``,
``content``) and an echo of the prompt (``echo``).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def completion_body(content: str, model: str = "scripted-model", prompt_tokens: int = 100,
                    completion_tokens: int = 20) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}


def answer(*paragraphs: str, **extra) -> dict:
    """A step that answers with ``{"paragraphs": [...]}`` (plus any extra keys)."""
    return {"status": 200, "json": completion_body(json.dumps({**extra,
                                                               "paragraphs": list(paragraphs)}))}


def status(code: int, headers: dict | None = None) -> dict:
    return {"status": code, "json": {"error": {"message": f"scripted {code}", "type": "x"}},
            "headers": headers or {}}


def raw(body: bytes, content_type: str = "application/json") -> dict:
    return {"status": 200, "raw": body, "content_type": content_type}


def content(text: str) -> dict:
    """A step whose message content is ``text`` as it stands (not wrapped in JSON)."""
    return {"status": 200, "json": completion_body(text)}


def echo() -> dict:
    """A step that answers with the last user message as its one paragraph: on a retry, the
    guard's reasons quoted back."""
    return {"status": 200, "echo": True}


def hang(seconds: float, then: dict | None = None) -> dict:
    """Wait ``seconds`` before answering (the client should time out first)."""
    return {"sleep": seconds, **(then or answer("late"))}


@dataclass
class ScriptedServer:
    script: list[dict]
    requests: list[dict] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append({"path": self.path,
                                            "headers": {k.lower(): v for k, v in
                                                        self.headers.items()},
                                            "body": body})
                    step = server.script[min(len(server.requests) - 1,
                                             len(server.script) - 1)]
                time.sleep(step.get("sleep", 0))
                if step.get("echo"):
                    last = [m for m in body.get("messages", []) if m.get("role") == "user"][-1]
                    step = answer(last["content"])
                payload = step.get("raw") or json.dumps(step.get("json", {})).encode()
                try:
                    self.send_response(step["status"])
                    self.send_header("content-type", step.get("content_type",
                                                              "application/json"))
                    self.send_header("content-length", str(len(payload)))
                    for k, v in step.get("headers", {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout step)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        # A short poll: shutdown() waits for it (the default 0.5 s cost 24 s over the suite).
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
