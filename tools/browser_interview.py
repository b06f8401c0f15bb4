"""The interview in a browser: `textual serve` serves it, headless Chromium opens the page,
an answer is typed and confirmed with Enter, and the assessment file on disk holds it.

    uv run python tools/browser_interview.py FILE STEP TEXT

FILE is an existing assessment (it is changed: pass a copy), STEP the interview step to open
on (as in its .FILE.interview.json, e.g. question:loop:replica-hpa:loop-owner), TEXT what to
type. Chromium is driven over its DevTools protocol; needs Debian's `chromium` and the
textual-serve package. Every wait is on an observable state (the page, the position file,
the assessment file), with a generous limit, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from interview import resume  # noqa: E402

LIMIT = 120.0  # seconds any one state may take to appear on a loaded machine


class BrowserRunError(Exception):
    """A state the run waited for never came; the message says which."""


def missing() -> str | None:
    """Why the run cannot happen here, or None."""
    if chromium() is None:
        return "chromium is not installed (Debian: apt-get install chromium)"
    try:
        import textual_serve  # noqa: F401
    except ImportError:
        return "the textual-serve package is not installed (uv pip install textual-serve)"
    return None


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _until(what: str, ok: Callable[[], Any], limit: float = LIMIT) -> Any:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        try:
            value = ok()
        except OSError:
            value = None
        if value:
            return value
        await asyncio.sleep(0.1)
    raise BrowserRunError(f"waited {limit:.0f} s for {what}")


class DevTools:
    """Just enough of Chromium's DevTools protocol: send a command, await its reply."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws, self.next_id = ws, 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        async for message in self.ws:
            data = json.loads(message.data)
            if data.get("id") == self.next_id:
                if "error" in data:
                    raise BrowserRunError(f"{method}: {data['error']}")
                return dict(data.get("result", {}))
        raise BrowserRunError("the browser closed its DevTools connection")

    async def js(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")


async def run(path: Path, step: str, text: str) -> str:
    """Serve the interview on `path` at `step`, type `text` and Enter in a browser; return
    the assessment file's text once it holds `text`."""
    reason = missing()
    if reason:
        raise BrowserRunError(reason)
    resume.save(path, resume.Position(step=step))
    side = path.with_name(f".{path.name}.interview.json")
    before = path.read_text(encoding="utf-8")
    web, debug = _free_port(), _free_port()
    command = f"{sys.executable} -m interview {path}"
    serve = (
        "from textual_serve.server import Server; "
        f"Server({command!r}, host='127.0.0.1', port={web}).serve()"
    )
    with tempfile.TemporaryDirectory() as profile:
        server = subprocess.Popen(
            [sys.executable, "-c", serve],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        browser = subprocess.Popen(
            [
                str(chromium()),
                "--headless=new",
                "--no-sandbox",  # containers run it as root
                "--disable-gpu",
                f"--remote-debugging-port={debug}",
                f"--user-data-dir={profile}",
                "--window-size=1200,800",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            async with aiohttp.ClientSession() as http:

                async def up(url: str) -> bool:
                    try:
                        async with http.get(url) as response:
                            return response.status == 200
                    except aiohttp.ClientError:
                        return False

                async def wait_up(what: str, url: str) -> None:
                    end = time.monotonic() + LIMIT
                    while not await up(url):
                        if time.monotonic() > end:
                            raise BrowserRunError(f"waited {LIMIT:.0f} s for {what}")
                        await asyncio.sleep(0.1)

                await wait_up("textual serve", f"http://127.0.0.1:{web}/")
                await wait_up("chromium", f"http://127.0.0.1:{debug}/json/version")
                async with http.get(f"http://127.0.0.1:{debug}/json/list") as response:
                    pages = [t for t in await response.json() if t.get("type") == "page"]
                async with http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                    tools = DevTools(ws)
                    shown = side.stat().st_mtime_ns
                    await tools.call("Page.navigate", url=f"http://127.0.0.1:{web}/")
                    end = time.monotonic() + LIMIT
                    while not await tools.js("!!document.querySelector('.xterm-helper-textarea')"):
                        if time.monotonic() > end:
                            raise BrowserRunError("the page never showed its terminal")
                        await asyncio.sleep(0.1)
                    # The app records the step once it is on screen with its input focused.
                    await _until(
                        "the interview on screen", lambda: side.stat().st_mtime_ns != shown
                    )
                    await tools.js("document.querySelector('.xterm-helper-textarea').focus()")
                    await tools.call("Input.insertText", text=text)
                    for kind in ("keyDown", "keyUp"):
                        await tools.call(
                            "Input.dispatchKeyEvent",
                            type=kind,
                            key="Enter",
                            code="Enter",
                            windowsVirtualKeyCode=13,
                            **({"text": "\r"} if kind == "keyDown" else {}),
                        )
                    return str(
                        await _until(
                            f"{text!r} in {path}",
                            lambda: (
                                (s := path.read_text(encoding="utf-8")) != before
                                and text in s
                                and s
                            ),
                        )
                    )
        finally:
            for process in (browser, server):
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    path, step, text = Path(sys.argv[1]).resolve(), sys.argv[2], sys.argv[3]
    if not path.is_file():
        print(f"{path}: no such assessment file; give a copy of one to change")
        return 2
    started = time.monotonic()
    try:
        asyncio.run(run(path, step, text))
    except BrowserRunError as exc:
        print(f"browser run failed: {exc}")
        return 1
    print(f"{path} holds {text!r} ({time.monotonic() - started:.1f} s from start)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
