"""Load a page in headless Chromium over the DevTools protocol on a pipe (stdlib only).

Chromium started with ``--remote-debugging-pipe`` reads protocol commands from fd 3 and writes
replies and events to fd 4, one JSON message per NUL-terminated chunk. ``load_page`` opens a
page, waits for its ``load`` event, asks the page for every ``<img>``'s natural size and
collects, from the protocol's events, every console error, uncaught exception, failed
resource and every URL the page requested.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = shutil.which("chromium")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio",
         "--remote-debugging-pipe")
IMAGES_JS = """JSON.stringify([...document.images].map(img => ({
    src: img.getAttribute('src').slice(0, 60), complete: img.complete,
    naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight})))"""


@dataclass
class PageLoad:
    """What a page did while loading in Chromium.

    ``images``: one dict per ``<img>`` (``src`` prefix, ``complete``, ``naturalWidth``,
    ``naturalHeight`` in CSS px); ``console_errors``: console.error/assert calls, uncaught
    exceptions and browser log entries at level error; ``requests``: every URL the page asked
    for (data: URLs included where Chromium reports them); ``failed``: (url, error text) of
    requests that failed; ``text``: the page's rendered text (``document.body.innerText``).
    """

    images: list[dict] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""

    @property
    def broken_images(self) -> list[dict]:
        return [i for i in self.images if not i["complete"] or i["naturalWidth"] == 0]


class DevToolsPipe:
    """One headless Chromium process and its protocol pipe."""

    def __init__(self, extra_flags: tuple[str, ...] = (), timeout: float = 60.0):
        if CHROMIUM is None:
            raise RuntimeError("chromium is not installed")
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
        to_chrome_r, to_chrome_w = os.pipe()
        from_chrome_r, from_chrome_w = os.pipe()
        # Move the child's ends above fd 4 so that placing them at 3 and 4 clobbers nothing.
        child_r = _dup_above(to_chrome_r, 10)
        child_w = _dup_above(from_chrome_w, 10)
        for fd in (to_chrome_r, from_chrome_w):
            os.close(fd)

        def place_pipe_fds():  # runs in the child between fork and exec (dup2: inheritable)
            os.dup2(child_r, 3)
            os.dup2(child_w, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, *extra_flags, f"--user-data-dir={self._profile.name}",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            close_fds=False, preexec_fn=place_pipe_fds)
        os.close(child_r)
        os.close(child_w)
        self._out, self._in = to_chrome_w, from_chrome_r
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None
             ) -> dict:
        """Send one command and wait for its reply; events that arrive meanwhile are kept."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str | None = None) -> dict:
        """Wait for the first event ``method`` (of ``session``) not yet seen."""
        for i, event in enumerate(self.events):
            if event.get("method") == method and event.get("sessionId") == session:
                return self.events.pop(i)
        while True:
            event = self._receive()
            if event.get("method") == method and event.get("sessionId") == session:
                return event
            self.events.append(event)

    def _receive(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise TimeoutError(f"no message from chromium within {self.timeout} s")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise RuntimeError(f"chromium closed the pipe (exit {self.proc.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._out)
        os.close(self._in)
        self._profile.cleanup()

    def __enter__(self) -> DevToolsPipe:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _dup_above(fd: int, lowest: int) -> int:
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lowest)


def load_page(url: str | Path, extra_flags: tuple[str, ...] = (), timeout: float = 60.0
              ) -> PageLoad:
    """Open ``url`` (a path becomes a file: URL) in a fresh headless Chromium; see PageLoad."""
    if isinstance(url, Path):
        url = url.resolve().as_uri()
    with DevToolsPipe(extra_flags, timeout) as chrome:
        target = chrome.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = chrome.send("Target.attachToTarget",
                              {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            chrome.send(f"{domain}.enable", session=session)
        chrome.send("Page.navigate", {"url": url}, session=session)
        chrome.wait_for("Page.loadEventFired", session)
        images = chrome.send("Runtime.evaluate", {"expression": IMAGES_JS,
                                                  "returnByValue": True}, session)
        text = chrome.send("Runtime.evaluate", {"expression": "document.body.innerText",
                                                "returnByValue": True}, session)
        # A round trip after load flushes events queued before it (late log entries).
        chrome.send("Runtime.evaluate", {"expression": "1"}, session)
        load = PageLoad(images=json.loads(images["result"]["value"]),
                        text=text["result"].get("value", ""))
        requests: dict[str, str] = {}
        for event in chrome.events:
            if event.get("sessionId") != session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                load.console_errors.append(" ".join(
                    str(a.get("value", a.get("description", ""))) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                load.console_errors.append(details.get("exception", {}).get(
                    "description", details.get("text", "")))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                load.console_errors.append(f"{entry['text']} ({entry.get('url', '')})")
            elif method == "Network.requestWillBeSent":
                requests[params["requestId"]] = params["request"]["url"]
                load.requests.append(params["request"]["url"])
            elif method == "Network.loadingFailed":
                load.failed.append((requests.get(params["requestId"], "?"),
                                    params["errorText"]))
    return load
