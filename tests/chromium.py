"""Headless Chromium over the DevTools protocol: load a page, record what it logged and
fetched, check elements are visible and take a full-page screenshot."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import websocket

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--remote-debugging-port=0",
)
_TIMEOUT = 60.0
# Each id -> whether the element exists, has a size and is not hidden by style.
_VISIBLE = """(ids => Object.fromEntries(ids.map(id => {
    const el = document.getElementById(id);
    if (!el) return [id, false];
    const box = el.getBoundingClientRect(), style = getComputedStyle(el);
    return [id, box.width > 0 && box.height > 0 && style.display !== 'none'
                && style.visibility === 'visible' && style.opacity !== '0'];
})))(IDS)"""
_APT_ENV = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}


def ensure_installed() -> str | None:
    """The browser's path, installing Debian's package when it is missing; None if that
    cannot be done here."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if shutil.which("apt-get") is None:
        return None
    for command in (["apt-get", "install", "-y", "chromium"],
                    ["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        subprocess.run(command, capture_output=True, timeout=900, env=_APT_ENV)
        if Path(CHROMIUM).exists():
            return CHROMIUM
    return None


@dataclass
class PageVisit:
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    visible: dict[str, bool] = field(default_factory=dict)
    svg_count: int = 0


class Browser:
    def __init__(self, profile_dir: Path):
        self._process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile_dir}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        port_file = profile_dir / "DevToolsActivePort"
        deadline = time.monotonic() + _TIMEOUT
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self._process.poll() is not None:
                self.close()
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
            pages = [t for t in json.load(answer) if t["type"] == "page"]
        self._socket = websocket.create_connection(
            pages[0]["webSocketDebuggerUrl"], timeout=_TIMEOUT, suppress_origin=True)
        self._next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, **params) -> dict:
        self._next_id += 1
        self._socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait_for(self, method: str) -> None:
        if any(e.get("method") == method for e in self.events):
            return
        while True:
            message = json.loads(self._socket.recv())
            self.events.append(message)
            if message.get("method") == method:
                return

    def visit(self, page: Path, section_ids: list[str], screenshot: Path) -> PageVisit:
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=1280, height=900,
                  deviceScaleFactor=1, mobile=False)
        self.events.clear()
        url = page.resolve().as_uri()
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        visit = PageVisit()
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent" and params["request"]["url"] != url:
                visit.requests.append(params["request"]["url"])
            elif method == "Runtime.exceptionThrown":
                visit.console_errors.append(json.dumps(params["exceptionDetails"])[:300])
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                visit.console_errors.append(json.dumps(params["args"])[:300])
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                visit.console_errors.append(params["entry"]["text"])
        check = _VISIBLE.replace("IDS", json.dumps(section_ids))
        visit.visible = self.send("Runtime.evaluate", expression=check,
                                  returnByValue=True)["result"]["value"]
        visit.svg_count = self.send("Runtime.evaluate",
                                    expression="document.querySelectorAll('svg').length",
                                    returnByValue=True)["result"]["value"]
        size = self.send("Page.getLayoutMetrics")["cssContentSize"]
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": size["width"],
                               "height": size["height"], "scale": 1})
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        return visit

    def close(self) -> None:
        if getattr(self, "_socket", None):
            self._socket.close()
        self._process.terminate()
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
