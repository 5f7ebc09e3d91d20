"""A small Chrome DevTools Protocol client over aiohttp's websocket, for browser tests.

`Browser.launch` starts headless Chromium with `--remote-debugging-port=0`, reads the
`DevTools listening on ws://...` line it prints, and talks to the browser target over one
websocket; pages are targets attached in flattened sessions (every message carries its
`sessionId`). A `Page` collects what the browser reports as an error: console errors,
uncaught exceptions and log entries of level error (failed loads among them).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp

LISTENING = re.compile(rb"DevTools listening on (ws://\S+)")
Handler = Callable[[str, dict[str, Any]], None]


class CdpError(Exception):
    """The browser answered a command with an error, or did not answer in time."""


class Browser:
    """One headless Chromium process and the websocket to its browser target."""

    def __init__(self, proc: asyncio.subprocess.Process, http: aiohttp.ClientSession,
                 ws: aiohttp.ClientWebSocketResponse, stderr: deque[str],
                 drain: asyncio.Task[None]) -> None:
        self.proc = proc
        self._http = http
        self._ws = ws
        self.stderr = stderr  # the last lines Chromium printed, for failure messages
        self._drain = drain
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._handlers: dict[str, Handler] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read(), name="cdp-reader")

    @classmethod
    async def launch(cls, executable: str, profile: Path, flags: Sequence[str] = (),
                     timeout_s: float = 30.0) -> Browser:
        """Start Chromium headless with remote debugging on a free port and connect to it."""
        proc = await asyncio.create_subprocess_exec(
            executable, *flags, "--headless", "--remote-debugging-port=0",
            f"--user-data-dir={profile}", "about:blank",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        assert proc.stderr is not None
        lines: deque[str] = deque(maxlen=40)
        try:
            url = await asyncio.wait_for(_listening(proc.stderr, lines), timeout_s)
        except BaseException:
            await _end(proc, grace_s=0)
            raise
        # Chromium keeps writing to stderr: read it to the end, or it blocks on a full pipe.
        drain = asyncio.get_running_loop().create_task(_keep(proc.stderr, lines), name="cdp-stderr")
        http = aiohttp.ClientSession()
        try:
            ws = await http.ws_connect(url, max_msg_size=0, timeout=aiohttp.ClientWSTimeout(ws_close=5))
        except BaseException:
            await http.close()
            drain.cancel()
            await _end(proc, grace_s=0)
            raise
        return cls(proc, http, ws, lines, drain)

    async def _read(self) -> None:
        try:
            async for msg in self._ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                if "id" in data:
                    fut = self._pending.pop(data["id"], None)
                    if fut is not None and not fut.done():
                        fut.set_result(data)
                elif "method" in data:
                    handler = self._handlers.get(data.get("sessionId", ""))
                    if handler is not None:
                        handler(data["method"], data.get("params", {}))
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(CdpError("the browser closed the connection"))

    async def call(self, method: str, params: dict[str, Any] | None = None, *,
                   session: str | None = None, timeout_s: float = 30.0) -> dict[str, Any]:
        """Send one command (to a page's session, or to the browser) and await its result."""
        msg_id = next(self._ids)
        message: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        await self._ws.send_str(json.dumps(message))
        try:
            reply = await asyncio.wait_for(fut, timeout_s)
        except TimeoutError:
            raise CdpError(f"{method}: no answer within {timeout_s} s") from None
        finally:
            self._pending.pop(msg_id, None)
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error'].get('message')}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def new_page(self, width: int = 1440, height: int = 900) -> Page:
        """A new tab, attached, with Runtime, Log and Page events enabled."""
        target = await self.call("Target.createTarget", {"url": "about:blank"})
        attached = await self.call("Target.attachToTarget",
                                   {"targetId": target["targetId"], "flatten": True})
        page = Page(self, attached["sessionId"], target["targetId"])
        self._handlers[page.session] = page.on_event
        for domain in ("Runtime", "Log", "Page"):
            await page.call(f"{domain}.enable")
        await page.call("Emulation.setDeviceMetricsOverride",
                        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        return page

    async def close(self) -> None:
        """Close the browser and wait for the process to end."""
        with contextlib.suppress(CdpError, ConnectionError, aiohttp.ClientError):
            await self.call("Browser.close", timeout_s=5)
        await self._ws.close()
        await self._http.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await _end(self.proc)
        self._drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._drain


class Page:
    """One tab in a flattened session; `errors` holds what it reported as an error."""

    def __init__(self, browser: Browser, session: str, target: str) -> None:
        self.browser = browser
        self.session = session
        self.target = target
        self.errors: list[str] = []
        self._loaded = asyncio.Event()

    async def call(self, method: str, params: dict[str, Any] | None = None,
                   timeout_s: float = 30.0) -> dict[str, Any]:
        """A command to this page."""
        return await self.browser.call(method, params, session=self.session, timeout_s=timeout_s)

    def on_event(self, method: str, params: dict[str, Any]) -> None:
        """Collect errors; note page loads."""
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = params.get("args", [])
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in args)
            self.errors.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exc = details.get("exception", {})
            self.errors.append(f"uncaught: {exc.get('description') or details.get('text')}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            if entry.get("level") == "error":
                self.errors.append(f"log ({entry.get('source')}): {entry.get('text')} "
                                   f"{entry.get('url', '')}".rstrip())
        elif method == "Page.loadEventFired":
            self._loaded.set()

    async def goto(self, url: str, timeout_s: float = 30.0) -> None:
        """Navigate and wait for the load event."""
        self._loaded.clear()
        result = await self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CdpError(f"cannot load {url}: {result['errorText']}")
        await asyncio.wait_for(self._loaded.wait(), timeout_s)

    async def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression (promises awaited)."""
        result = await self.call("Runtime.evaluate", {"expression": expression,
                                                      "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CdpError(f"{expression[:60]!r} threw: "
                           f"{details.get('exception', {}).get('description') or details.get('text')}")
        return result.get("result", {}).get("value")

    async def wait_for(self, expression: str, what: str, timeout_s: float = 20.0,
                       poll_s: float = 0.05) -> Any:
        """Poll `expression` until it is truthy; fail naming `what` at the deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if loop.time() > deadline:
                raise AssertionError(f"the page did not show {what} within {timeout_s} s; "
                                     f"errors: {self.errors}")
            await asyncio.sleep(poll_s)

    async def screenshot(self, path: Path, full_page: bool = True) -> bytes:
        """A PNG of the page (the whole of it with `full_page`), written to `path`."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            metrics = await self.call("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params.update(captureBeyondViewport=True, clip={
                "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        data = base64.b64decode((await self.call("Page.captureScreenshot", params))["data"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return data


    async def screenshot_element(self, selector: str, path: Path, margin: int = 8) -> bytes:
        """A PNG of the element `selector` selects (with a margin), written to `path`."""
        box = await self.evaluate(
            f"(() => {{ const r = document.querySelector({selector!r}).getBoundingClientRect(); "
            "return [r.left + scrollX, r.top + scrollY, r.width, r.height]; })()")
        x, y, w, h = box
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": True, "clip": {
            "x": max(0, x - margin), "y": max(0, y - margin), "width": w + 2 * margin,
            "height": h + 2 * margin, "scale": 1}}
        data = base64.b64decode((await self.call("Page.captureScreenshot", params))["data"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return data


async def _listening(stream: asyncio.StreamReader, lines: deque[str]) -> str:
    while True:
        line = await stream.readline()
        if not line:
            raise CdpError("chromium exited before it listened: " + " | ".join(lines))
        lines.append(line.decode(errors="replace").rstrip())
        found = LISTENING.search(line)
        if found:
            return found.group(1).decode()


async def _keep(stream: asyncio.StreamReader, lines: deque[str]) -> None:
    while line := await stream.readline():
        lines.append(line.decode(errors="replace").rstrip())


async def _end(proc: asyncio.subprocess.Process, grace_s: float = 10.0) -> None:
    """Wait up to `grace_s` for the process to exit, then kill it."""
    if proc.returncode is None:
        try:
            await asyncio.wait_for(proc.wait(), grace_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
